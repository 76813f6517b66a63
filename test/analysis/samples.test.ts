/**
 * Per-sample gradients, diagonal curvature and the Fisher operators by their identities, on
 * small float64 networks of rank 1, 2 and 3 (residual blocks, batch norm in evaluation mode,
 * dropout, both losses): per-sample gradients sum to the gradient and reduce to the norms,
 * second moment and variance computed directly from them; the exact diagonals equal the
 * diagonals of G and H assembled from the networks' own Gv and Hv products; the Monte-Carlo
 * diagonal is unbiased within standard errors over seeds; the Fisher and empirical Fisher
 * operators are symmetric, positive semi-definite and equal their definitions. float64 results
 * agree to rounding (1e-12 on these sizes); tolerances of the stochastic checks are in standard
 * errors, and float32 and the GPU backend are compared with float64 / the CPU at float32 rounding.
 */
import { describe, expect, it } from 'vitest';
import { CurvatureOperator, type OperatorKind } from '../../src/analysis/index.js';
import { activation, batchNorm, conv, dense, dropout, flatten, maxPool, residual, type LayerSpec } from '../../src/layers/index.js';
import { Network } from '../../src/network/index.js';
import { cpuBackend } from '../../src/nd/backends/cpu/index.js';
import type { Backend } from '../../src/nd/backend.js';
import type { Batch } from '../../src/nd/model.js';
import { sliceBatch } from '../../src/nd/model.js';
import { Rng } from '../../src/nd/rng.js';
import { dot } from '../../src/nd/vec.js';
import { gpu, gpuTitle, skipGpu } from '../gpu/gpu-mode.js';
import { numericGradient, numericHv, randn, randomBatch, relError } from '../helpers.js';
import { assemble } from './dense.js';

const F64 = cpuBackend('float64');

interface Case {
  name: string;
  inShape: number[];
  specs: LayerSpec[];
  loss: 'mse' | 'softmax-cross-entropy';
  mode: 'train' | 'eval';
}

const CASES: Case[] = [
  {
    name: 'rank 1: conv (tanh, stride 2) → max-pool → dense, MSE',
    inShape: [2, 11],
    specs: [conv({ channels: 3, kernel: 3, stride: 2, activation: 'tanh' }), maxPool({ window: 2 }), flatten(), dense({ units: 3 })],
    loss: 'mse',
    mode: 'train',
  },
  {
    name: 'rank 2: conv → residual (relu, projection) → dropout → dense (sigmoid) → dense, cross-entropy',
    inShape: [1, 6, 5],
    specs: [
      conv({ channels: 2, kernel: 2, activation: 'relu' }),
      residual([conv({ channels: 3, kernel: 3, padding: 1, activation: 'relu' }), conv({ channels: 3, kernel: 3, padding: 1 })], { projection: true }),
      flatten(),
      dropout(0.25),
      dense({ units: 4, activation: 'sigmoid' }),
      dense({ units: 3 }),
    ],
    loss: 'softmax-cross-entropy',
    mode: 'train',
  },
  {
    name: 'rank 3: conv → batch norm → tanh → dense → batch norm → dense, evaluation mode',
    inShape: [1, 4, 3, 4],
    specs: [conv({ channels: 2, kernel: 2 }), batchNorm(), activation('tanh'), flatten(), dense({ units: 4 }), batchNorm(), dense({ units: 3 })],
    loss: 'softmax-cross-entropy',
    mode: 'eval',
  },
];

function setup(c: Case, backend: Backend = F64, seed = 2) {
  const net = new Network(backend, c.inShape, c.specs, { loss: c.loss, seed });
  const rng = new Rng(seed + 10);
  for (let i = 0; i < net.paramCount; i++) net.params[i] += 0.2 * rng.normal();
  for (const b of net.namedBuffers()) {
    if (b.name.endsWith('running_mean')) b.data.set(randn(rng, b.data.length, 0.3));
    if (b.name.endsWith('running_var')) b.data.set(randn(rng, b.data.length, 0.3).map((v) => 1 + Math.abs(v)));
  }
  const k = net.outShape[0];
  const raw = randomBatch(rng, c.inShape, 5, k);
  const batch: Batch = { x: backend.dtype === 'float32' ? Float32Array.from(raw.x) : raw.x, y: c.loss === 'mse' ? randn(rng, 5 * k) : raw.y, n: 5 };
  return { net, batch, rng };
}

/** The samples' gradients as rows [n × P] in the flat layout. */
function rowsOf(net: Network, q: ReturnType<Network['perSample']>): Float64Array[] {
  const rows = Array.from({ length: q.n }, () => new Float64Array(net.paramCount));
  for (const t of q.gradients!) for (let r = 0; r < q.n; r++) rows[r].set(t.data.subarray(r * t.size, (r + 1) * t.size), t.offset);
  return rows;
}

const diagonalOf = (a: number[][]) => a.map((row, i) => row[i]);

describe.each(CASES)('$name', (c) => {
  const { net, batch } = setup(c);
  const mode = c.mode;
  const P = net.paramCount;

  it('per-sample gradients sum to the gradient and reduce to the norms, second moment and variance computed directly', () => {
    const g = new Float64Array(P);
    // First: a training-mode gradient of a new batch starts the step whose dropout masks perSample then uses.
    net.gradient(batch, g, { mode });
    const q = net.perSample(batch, { mode, gradients: true });
    const rows = rowsOf(net, q);
    const sum = rows.reduce((s, r) => s.map((v, i) => v + r[i]), new Float64Array(P));
    expect(relError(sum, g)).toBeLessThan(1e-13);
    expect(relError(q.gradient, g)).toBeLessThan(1e-13);
    expect(relError(q.norms!.total, rows.map((r) => dot(r, r)))).toBeLessThan(1e-13);
    for (const p of net.namedParameters()) {
      expect(relError(q.norms!.byTensor[p.name], rows.map((r) => dot(r.subarray(p.offset, p.offset + p.size), r.subarray(p.offset, p.offset + p.size))))).toBeLessThan(1e-13);
    }
    const second = rows.reduce((s, r) => s.map((v, i) => v + r[i] ** 2), new Float64Array(P));
    expect(relError(q.secondMoment!, second)).toBeLessThan(1e-13);
    const n = q.n;
    const mean = sum.map((v) => v / n);
    const variance = mean.map((m, i) => rows.reduce((s, r) => s + (r[i] - m) ** 2, 0) / n);
    expect(relError(q.variance!, variance)).toBeLessThan(1e-10);
    // The reduced paths (no gradient materialised) give the same norms.
    expect(relError(net.perSample(batch, { mode }).norms!.total, q.norms!.total)).toBeLessThan(1e-13);
  });

  it('each sample\'s gradient is the gradient of its own loss term ℓ_n / n (central differences)', () => {
    const rows = rowsOf(net, net.perSample(batch, { mode, gradients: true }));
    const lossOf = (b: Batch) => (mode === 'eval' ? net.evalLoss(b) : net.loss(b));
    for (const r of [0, 3]) {
      // The sample's dropout mask is a function of its bytes and the step, so its batch of one draws the same.
      const one = sliceBatch(batch, r, r + 1);
      expect(relError(rows[r], numericGradient(() => lossOf(one) / batch.n, net.params))).toBeLessThan(1e-6);
    }
  });

  it('the exact GGN diagonal is the diagonal of G assembled from Gv; the empirical Fisher\'s from its operator', () => {
    const G = assemble(new CurvatureOperator(net, batch, { operator: 'gauss-newton', mode }));
    expect(relError(net.curvatureDiagonal(batch, { mode }), diagonalOf(G))).toBeLessThan(1e-12);
    const E = assemble(new CurvatureOperator(net, batch, { operator: 'empirical-fisher', mode }));
    expect(relError(net.curvatureDiagonal(batch, { mode, of: 'empirical-fisher' }), diagonalOf(E))).toBeLessThan(1e-12);
  });

  it('the exact Hessian diagonal is the diagonal of H assembled from Hv (smooth activations: their residual columns)', () => {
    const H = assemble(new CurvatureOperator(net, batch, { operator: 'hessian', mode }));
    expect(relError(net.curvatureDiagonal(batch, { mode, of: 'hessian' }), diagonalOf(H))).toBeLessThan(1e-12);
  });

  it('the Monte-Carlo GGN diagonal is unbiased: over 300 seeds each tensor\'s sum lies within 3 standard errors of the exact one', () => {
    const exact = net.curvatureDiagonal(batch, { mode });
    const seeds = 300;
    const draws = Array.from({ length: seeds }, (_, s) => net.curvatureDiagonal(batch, { mode, estimate: 'mc', seed: s + 1 }));
    for (const p of net.namedParameters()) {
      const sums = draws.map((d) => Array.from(d.subarray(p.offset, p.offset + p.size)).reduce((a, b) => a + b, 0));
      const mean = sums.reduce((a, b) => a + b, 0) / seeds;
      const se = Math.sqrt(sums.reduce((a, v) => a + (v - mean) ** 2, 0) / (seeds - 1) / seeds);
      const want = Array.from(exact.subarray(p.offset, p.offset + p.size)).reduce((a, b) => a + b, 0);
      expect(Math.abs(mean - want)).toBeLessThanOrEqual(3 * se + 1e-15);
    }
    // More sampled targets per pass shrink the error: 64 samples against 1, same seed.
    const err = (d: ArrayLike<number>) => relError(d, exact);
    expect(err(net.curvatureDiagonal(batch, { mode, estimate: 'mc', samples: 64 }))).toBeLessThan(0.5 * err(draws[0]));
  });

  it('the Fisher and empirical Fisher operators are symmetric and positive semi-definite; E is (1/n) Σ ∇ℓ_n ∇ℓ_nᵀ', () => {
    const rows = rowsOf(net, net.perSample(batch, { mode, gradients: true }));
    const n = batch.n;
    for (const kind of ['fisher', 'empirical-fisher'] as OperatorKind[]) {
      const A = assemble(new CurvatureOperator(net, batch, { operator: kind, mode, samples: 3 }));
      const asym = A.flatMap((row, i) => row.map((v, j) => Math.abs(v - A[j][i]))).reduce((m, v) => Math.max(m, v), 0);
      expect(asym).toBeLessThan(1e-13 * A.flat().reduce((m, v) => Math.max(m, Math.abs(v)), 0));
      const rng = new Rng(9);
      for (let t = 0; t < 5; t++) {
        const v = randn(rng, P);
        expect(v.reduce((s, vi, i) => s + vi * dot(Float64Array.from(A[i]), v), 0)).toBeGreaterThanOrEqual(-1e-14);
      }
      if (kind === 'empirical-fisher') {
        // ∇ℓ_n = n · g_n, so (1/n) Σ ∇ℓ_n ∇ℓ_nᵀ = n Σ g_n g_nᵀ.
        const direct = A.map((_, i) => A.map((_r, j) => n * rows.reduce((s, r) => s + r[i] * r[j], 0)));
        expect(relError(A.flat(), direct.flat())).toBeLessThan(1e-12);
      }
    }
  });

  it('the Monte-Carlo Fisher\'s expectation is G: many sampled targets approach it', () => {
    const G = assemble(new CurvatureOperator(net, batch, { operator: 'gauss-newton', mode }));
    const few = assemble(new CurvatureOperator(net, batch, { operator: 'fisher', mode, samples: 4 }));
    const many = assemble(new CurvatureOperator(net, batch, { operator: 'fisher', mode, samples: 1024 }));
    // Monte-Carlo error falls as 1/√samples: 16× fewer... at 256× the samples; allow a factor 2 of noise.
    expect(relError(many.flat(), G.flat())).toBeLessThan(relError(few.flat(), G.flat()) / 8);
  });

  it('float32 agrees with float64 to float32 rounding (in evaluation mode: dropout keys hash the inputs\' bytes, which differ)', () => {
    const s32 = setup(c, cpuBackend('float32'));
    const mode = 'eval';
    const [q32, q64] = [s32.net.perSample(s32.batch, { mode, gradients: true }), net.perSample(batch, { mode, gradients: true })];
    // Inputs and parameters rounded to float32 too, then forward and backward sums of ≤ 100 terms: ~1e-6.
    expect(relError(q32.norms!.total, q64.norms!.total)).toBeLessThan(1e-4);
    expect(relError(q32.secondMoment!, q64.secondMoment!)).toBeLessThan(1e-4);
    expect(relError(s32.net.curvatureDiagonal(s32.batch, { mode }), net.curvatureDiagonal(batch, { mode }))).toBeLessThan(1e-4);
  });
});

describe('the exact Hessian diagonal where every layer is piecewise linear', () => {
  it('equals the diagonal of H assembled from Hv (relu, max-pool, residual, dropout, batch norm in evaluation mode)', () => {
    const c: Case = {
      name: 'relu',
      inShape: [2, 6, 6],
      specs: [
        conv({ channels: 3, kernel: 3, activation: 'relu' }),
        residual([conv({ channels: 3, kernel: 3, padding: 1, activation: { kind: 'leaky-relu', slope: 0.1 } }), batchNorm()]),
        maxPool({ window: 2 }),
        flatten(),
        dropout(0.2),
        dense({ units: 5, activation: 'relu' }),
        dense({ units: 3 }),
      ],
      loss: 'softmax-cross-entropy',
      mode: 'eval',
    };
    const { net, batch } = setup(c);
    const H = assemble(new CurvatureOperator(net, batch, { operator: 'hessian', mode: 'eval' }));
    expect(relError(net.curvatureDiagonal(batch, { mode: 'eval', of: 'hessian' }), diagonalOf(H))).toBeLessThan(1e-12);
    // ...while H itself is not G (the off-diagonal cross-layer terms differ).
    const G = assemble(new CurvatureOperator(net, batch, { operator: 'gauss-newton', mode: 'eval' }));
    expect(relError(H.flat(), G.flat())).toBeGreaterThan(1e-3);
  });
});

describe('the exact Hessian diagonal is refused where it is out of reach', () => {
  it('a smooth activation inside a residual block; more residual columns than RESIDUAL_COLUMNS', () => {
    const inBlock = new Network(F64, [2, 5], [residual([conv({ channels: 2, kernel: 3, padding: 1, activation: 'tanh' })]), flatten(), dense({ units: 2 })], { loss: 'mse' });
    const b1 = { x: randn(new Rng(1), 3 * 10), y: randn(new Rng(2), 6), n: 3 };
    expect(() => inBlock.curvatureDiagonal(b1, { of: 'hessian' })).toThrow(/residual#0.body.0 applies tanh inside a residual block/);
    const wide = new Network(F64, [1, 40, 40], [conv({ channels: 3, kernel: 3, activation: 'sigmoid' }), flatten(), dense({ units: 2 })], { loss: 'mse' });
    const b2 = { x: randn(new Rng(1), 2 * 1600), y: randn(new Rng(2), 4), n: 2 };
    expect(() => wide.curvatureDiagonal(b2, { of: 'hessian' })).toThrow(/needs 8664 backward passes \(2 per element of each smooth activation's input\), more than 4096/);
  });
});

describe('evaluation mode: batch norm on running statistics, dropout off', () => {
  const c = CASES[2];
  const specs = [...c.specs.slice(0, 4), dropout(0.5), ...c.specs.slice(4)];
  const { net, batch, rng } = setup({ ...c, specs });

  it('the gradient and Hv against finite differences of evalLoss and of the eval-mode gradient', () => {
    const g = new Float64Array(net.paramCount);
    const loss = net.gradient(batch, g, { mode: 'eval' });
    expect(loss).toBe(net.evalLoss(batch));
    expect(relError(g, numericGradient(() => net.evalLoss(batch), net.params))).toBeLessThan(1e-6);
    const v = randn(rng, net.paramCount);
    const hv = new Float64Array(net.paramCount);
    net.curvature(batch, { mode: 'eval' }).hv(v, hv);
    const evalModel = { ...net, params: net.params, paramCount: net.paramCount, gradient: (b: Batch, out: Float64Array) => net.gradient(b, out, { mode: 'eval' }) };
    expect(relError(hv, numericHv(evalModel as never, batch, v))).toBeLessThan(1e-6);
  });

  it('changes nothing: running statistics and the randomness step stay', () => {
    const before = net.state();
    net.gradient(batch, new Float64Array(net.paramCount), { mode: 'eval' });
    net.perSample(batch, { mode: 'eval' });
    net.curvatureDiagonal(batch, { mode: 'eval' });
    expect(net.state()).toEqual(before);
  });
});

describe('batch norm in training mode couples the samples', () => {
  const c = { ...CASES[2], mode: 'train' as const };
  const { net, batch } = setup(c);
  it('per-sample quantities and the diagonals from them are refused, naming the layer and the way out', () => {
    const why = /batchNorm#1: per-sample quantities are undefined under batch norm in training mode.*evaluation mode.*Hutchinson/;
    expect(() => net.perSample(batch)).toThrow(why);
    expect(() => net.curvatureDiagonal(batch)).toThrow(why);
    expect(() => net.curvatureDiagonal(batch, { of: 'hessian' })).toThrow(/no exact Hessian diagonal here: batchNorm#1 normalises by batch statistics in training mode; estimate it with hutchinsonDiagonal/);
  });
  it('the products still run there (G, F and E through the coupled Jacobian), and the empirical Fisher diagonal falls back to batches of one', () => {
    const G = assemble(new CurvatureOperator(net, batch, { operator: 'gauss-newton' }));
    expect(G.every((row, i) => row[i] >= -1e-15)).toBe(true);
    const d = new Float64Array(net.paramCount);
    net.sumSquaredGradients(batch, d);
    expect(d.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
  });
});

describe('sumSquaredGradients (HF\'s preconditioner) from the per-sample pass equals n gradients of batches of one', () => {
  it('rank 1 (no dropout: a batch of one has no step of its own to draw masks for)', () => {
    const { net, batch } = setup(CASES[0]);
    const fast = new Float64Array(net.paramCount);
    net.sumSquaredGradients(batch, fast);
    const slow = new Float64Array(net.paramCount);
    const g = new Float64Array(net.paramCount);
    for (let r = 0; r < batch.n; r++) {
      net.gradient(sliceBatch(batch, r, r + 1), g);
      g.forEach((v, i) => (slow[i] += (v * v) / batch.n));
    }
    expect(relError(fast, slow)).toBeLessThan(1e-12);
  });
});

describe('a backend without the per-sample primitives', () => {
  it('refuses per-sample quantities of convolutions, naming the primitive; without sampleMoments the layers compose it', () => {
    const base = cpuBackend('float64');
    const bare = Object.create(base, { convBackFilterSamples: { value: undefined }, sampleMoments: { value: undefined } }) as Backend;
    const { net, batch } = setup(CASES[0], bare);
    expect(() => net.perSample(batch)).toThrow(/conv#0: the cpu backend has no per-sample filter gradients \(Backend.convBackFilterSamples\)/);
    const composed = Object.create(base, { sampleMoments: { value: undefined } }) as Backend;
    const a = setup(CASES[0], composed);
    const b = setup(CASES[0], base);
    const [qa, qb] = [a.net.perSample(a.batch), b.net.perSample(b.batch)];
    expect(relError(qa.norms!.total, qb.norms!.total)).toBeLessThan(1e-13);
    expect(relError(qa.secondMoment!, qb.secondMoment!)).toBeLessThan(1e-13);
    expect(relError(qa.gradient, qb.gradient)).toBeLessThan(1e-13);
  });
});

describe('a backend that reads back asynchronously (WebGPU)', () => {
  it('refuses per-sample and diagonal quantities, which read synchronously', () => {
    const later = Object.create(cpuBackend('float64'), { asyncReads: { value: true }, name: { value: 'webgpu' } }) as Backend;
    const { net, batch } = setup(CASES[0], later);
    expect(() => net.perSample(batch)).toThrow(/perSample: per-sample and diagonal curvature read back synchronously; the webgpu backend reads asynchronously/);
    expect(() => net.curvatureDiagonal(batch)).toThrow(/curvatureDiagonal: per-sample and diagonal curvature read back synchronously/);
  });
});

describe('arguments', () => {
  const { net, batch } = setup(CASES[1]);
  it('names what is wrong', () => {
    expect(() => net.perSample(batch, { grads: true } as never)).toThrow(/unknown option 'grads' \(known: mode, gradients, norms, moments\)/);
    expect(() => net.perSample(batch, { gradients: ['dense#9'] })).toThrow(/no layer "dense#9" \(layers: 0 conv#0, 1 residual#1/);
    expect(() => net.perSample(batch, { gradients: [2] })).toThrow(/layer flatten#2 has no parameters/);
    expect(() => net.perSample(batch, { mode: 'test' as never })).toThrow(/mode must be 'train' or 'eval', got "test"/);
    expect(() => net.curvatureDiagonal(batch, { of: 'hessian', estimate: 'mc' })).toThrow(/Monte-Carlo estimate is of the GGN only/);
    expect(() => net.curvatureDiagonal(batch, { estimate: 'mc', samples: 0 })).toThrow(/samples must be a positive integer, got 0/);
    expect(() => net.curvatureDiagonal(batch, { of: 'fisher' as never })).toThrow(/'of' must be 'ggn', 'hessian' or 'empirical-fisher'/);
    expect(() => net.curvature(batch, { samples: 1.5 })).toThrow(/samples must be a positive integer, got 1.5/);
    expect(() => net.setDropoutMasks({ 'dropout#2': [1] })).toThrow(/no dropout layer 'dropout#2' \(dropout layers: dropout#3\)/);
    net.setDropoutMasks({ 'dropout#3': new Float64Array(5 * 60).fill(1) });
    expect(() => net.loss(sliceBatch(batch, 0, 4))).toThrow(/dropout#3: the given mask has 300 values, the batch \[4, 60\] needs 240/);
    net.setDropoutMasks({ 'dropout#3': new Float64Array(5 * 60).fill(0.5) });
    expect(() => net.loss(batch)).toThrow(/mask values must be 0 \(drop\) or 1 \(keep\), got 0.5 at element 0/);
    net.setDropoutMasks(null);
    expect(Number.isFinite(net.loss(batch))).toBe(true);
  });
});

describe.skipIf(skipGpu)(gpuTitle('per-sample quantities and the GGN diagonal on the GPU match the CPU (float32)'), () => {
  it.each([CASES[0], CASES[1]])('$name', (c) => {
    // Both float32 in different summation orders: measured ~1e-6 relative; 1e-4 leaves margin, a wrong index is O(1).
    const cpu = setup(c, cpuBackend('float32'));
    const dev = setup(c, gpu());
    const [qc, qg] = [cpu.net.perSample(cpu.batch, { gradients: [0] }), dev.net.perSample(dev.batch, { gradients: [0] })];
    expect(relError(qg.norms!.total, qc.norms!.total)).toBeLessThan(1e-4);
    expect(relError(qg.secondMoment!, qc.secondMoment!)).toBeLessThan(1e-4);
    expect(relError(qg.gradients![0].data, qc.gradients![0].data)).toBeLessThan(1e-4);
    expect(relError(dev.net.curvatureDiagonal(dev.batch), cpu.net.curvatureDiagonal(cpu.batch))).toBeLessThan(1e-4);
  });
});
