/**
 * K-FAC's identities, in float64 against matrices assembled from the network's own exact
 * products (gv) and from the factors' definitions:
 * - for dense layers and ONE sample, the type-2 (exact-GGN) factors give each layer's GGN block
 *   exactly: a dense layer has one input column x̄, so J_Wᵀ H J_W = (Σ_c g_c g_cᵀ) ⊗ x̄x̄ᵀ;
 * - the operator is symmetric and positive semi-definite, its damped inverse inverts F + λI, the
 *   factored-Tikhonov solve inverts (G + γ/π) ⊗ (A + πγ);
 * - sampled-label (Fisher) factors average to the exact ones (E over ŷ ~ p of (p − e_ŷ)(p − e_ŷ)ᵀ
 *   = diag p − ppᵀ), within 3 standard errors over seeds;
 * - Lanczos, Hutchinson and SLQ run on it unchanged and agree with its dense assembly.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CurvatureOperator,
  dataFactors,
  eigenSymmetric,
  hutchinsonTrace,
  KroneckerOperator,
  kroneckerOperator,
  spectralDensity,
  topEigenpairs,
} from '../../src/analysis/index.js';
import { batchNorm, conv, dense, dropout, flatten, losses, maxPool, parameterBlocks, residual, type LayerSpec } from '../../src/layers/index.js';
import { Network } from '../../src/network/index.js';
import { cpuBackend } from '../../src/nd/backends/cpu/index.js';
import { chooseGemm } from '../../src/nd/backends/cpu/gemm-select.js';
import { ConvGeometry, type ConvOptions } from '../../src/nd/geometry.js';
import type { Batch } from '../../src/nd/model.js';
import { Rng } from '../../src/nd/rng.js';
import { randn, randomBatch, relError } from '../helpers.js';
import { assemble, asymmetry, exactEigen, subBlock } from './dense.js';

const B = cpuBackend('float64');

/** Max |a − b| over max |b|. */
function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / m;
}

describe.each(['auto', 'js'] as const)('eigenSymmetric (%s)', (impl) => {
  // 'auto' is LAPACK's dsyevd where the OpenBLAS addon built (eigenSolver says which).
  const rng = new Rng(5);
  const check = (a: Float64Array, n: number) => {
    const { values, vectors } = eigenSymmetric(a, n, impl);
    const scale = Math.max(1e-300, ...Array.from(values, Math.abs));
    for (let i = 0; i < n; i++) {
      const q = vectors.subarray(i * n, i * n + n);
      for (let r = 0; r < n; r++) {
        let s = 0;
        for (let j = 0; j < n; j++) s += a[r * n + j] * q[j];
        // Backward-stable: residual ~ n·ε·‖A‖ (n ≤ 40 here: 1e-12 is a 100× margin).
        expect(Math.abs(s - values[i] * q[r])).toBeLessThan(1e-12 * scale);
      }
      for (let j = 0; j < n; j++) {
        let s = 0;
        for (let k = 0; k < n; k++) s += q[k] * vectors[j * n + k];
        expect(Math.abs(s - (i === j ? 1 : 0))).toBeLessThan(1e-12);
      }
      if (i > 0) expect(values[i]).toBeGreaterThanOrEqual(values[i - 1]);
    }
  };

  it.each([1, 2, 3, 7, 40])('A q = λ q with orthonormal q for a random symmetric matrix of order %i', (n) => {
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) for (let j = 0; j <= i; j++) a[i * n + j] = a[j * n + i] = rng.normal();
    check(a, n);
  });

  it('repeated eigenvalues, rank deficiency and the zero matrix (what factors look like)', () => {
    const n = 12;
    const u = randn(rng, 3 * n);
    const a = new Float64Array(n * n);
    // Rank 3 plus a multiple of the identity on half the coordinates: eigenvalues cluster.
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) {
      for (let r = 0; r < 3; r++) a[i * n + j] += u[r * n + i] * u[r * n + j];
      if (i === j && i < n / 2) a[i * n + j] += 2;
    }
    check(a, n);
    check(new Float64Array(n * n), n);
  });

  it('refuses a non-square or non-finite input', () => {
    expect(() => eigenSymmetric(new Float64Array(5), 2, impl)).toThrow(/not an 2×2/);
    expect(() => eigenSymmetric(Float64Array.of(1, NaN, NaN, 1), 2, impl)).toThrow(/entry \(0, 1\) is NaN/);
  });
});

describe('the patch Gram (KFC\'s input factor) by every kernel', () => {
  // CPU with OpenBLAS (SYRK from 64 rows), with the JS GEMM, and composed from conv +
  // convBackFilter (a backend without patchGram), against patches cut by the geometry's own
  // definition x[n, c, i·s + a·d − p] in float64.
  const kernels = [cpuBackend('float64'), cpuBackend('float64', chooseGemm('js'))];
  const cases: [string, number[], ConvOptions][] = [
    ['rank 1, stride 2, padding, 100 rows', [4, 30], { channels: 1, kernel: 25, stride: 2, padding: 3 }],
    ['rank 2, dilation, 65 rows', [4, 9, 9], { channels: 1, kernel: [4, 4], dilation: 2 }],
    ['rank 3, padding, 81 rows', [3, 5, 5, 4], { channels: 1, kernel: 3, padding: 1 }],
    ['rank 1, 637 positions (SYRK over samples in groups of 2), 65 rows', [1, 700], { channels: 1, kernel: 64 }],
    ['a dense layer\'s rows (one position, kernel = input), 70 rows', [70, 1], { channels: 1, kernel: 1 }],
  ];
  it.each(cases)('%s', (_, inShape, o) => {
    const g = new ConvGeometry('gram', inShape, o);
    const n = 3;
    const x = randn(new Rng(2), n * g.cin * g.inVolume);
    const ck = g.cin * g.kernelVolume;
    const c = ck + 1;
    const want = new Float64Array(c * c);
    const [D, H, W] = g.in3;
    const patch = new Float64Array(c);
    for (let s = 0; s < n; s++) {
      for (let od = 0; od < g.o3[0]; od++) for (let oh = 0; oh < g.o3[1]; oh++) for (let ow = 0; ow < g.o3[2]; ow++) {
        let r = 0;
        for (let ch = 0; ch < g.cin; ch++) for (let kd = 0; kd < g.k3[0]; kd++) for (let kh = 0; kh < g.k3[1]; kh++) for (let kw = 0; kw < g.k3[2]; kw++) {
          const [id, ih, iw] = [od * g.s3[0] + kd * g.d3[0] - g.p3[0], oh * g.s3[1] + kh * g.d3[1] - g.p3[1], ow * g.s3[2] + kw * g.d3[2] - g.p3[2]];
          const inside = id >= 0 && id < D && ih >= 0 && ih < H && iw >= 0 && iw < W;
          patch[r++] = inside ? x[((s * g.cin + ch) * D + id) * H * W + ih * W + iw] : 0;
        }
        patch[ck] = 1;
        for (let i = 0; i < c; i++) for (let j = 0; j < c; j++) want[i * c + j] += patch[i] * patch[j];
      }
    }
    for (const b of kernels) {
      const out = b.zeros([c, c]);
      b.patchGram!(out, b.upload([n, ...inShape], x), g, true);
      expect(maxRel(b.download(out), want)).toBeLessThan(1e-13);
    }
    const specs: LayerSpec[] = [conv({ ...o, bias: true }), flatten(), dense({ units: 2 })];
    const composed = Object.assign(Object.create(kernels[0]) as typeof kernels[0], { patchGram: undefined });
    const net = new Network(composed, inShape, specs, { threads: 1 });
    const got = net.kroneckerFactors({ x, y: Int32Array.of(0, 1, 0), n }, { kind: 'empirical' }).factors.kronecker[0].A;
    expect(maxRel(got, want.map((v) => v / n))).toBeLessThan(1e-13);
  });
});

describe('the losses\' Hessian factors and sampled gradients', () => {
  const [n, k] = [3, 4];
  const rng = new Rng(11);
  const z = randn(rng, n * k);
  // Soft targets with mass s_r = 1, 2 and 0.5: H_ℓr = s_r (diag p − ppᵀ).
  const soft = Float64Array.from({ length: n * k }, (_, i) => [1, 2, 0.5][Math.floor(i / k)] / k);
  const cases = [
    ['softmax-cross-entropy, labels', losses['softmax-cross-entropy'], Int32Array.of(0, 3, 1)],
    ['softmax-cross-entropy, soft targets', losses['softmax-cross-entropy'], soft],
    ['mse', losses.mse, randn(rng, n * k)],
  ] as const;
  it.each(cases)('%s: Σ_c S_c S_cᵀ u = n·H_L u', (_, loss, y) => {
    const u = randn(rng, n * k);
    const want = new Float64Array(n * k);
    loss.hessianVec(z, y, n, k, u, want);
    const got = new Float64Array(n * k);
    for (const col of loss.hessianFactor(z, y, n, k)) {
      for (let r = 0; r < n; r++) {
        let d = 0;
        for (let j = 0; j < k; j++) d += col[r * k + j] * u[r * k + j];
        for (let j = 0; j < k; j++) got[r * k + j] += (col[r * k + j] * d) / n;
      }
    }
    expect(maxRel(got, want)).toBeLessThan(1e-14);
  });
  it.each(cases)('%s: the sampled gradients\' second moment is H_ℓ within 4 standard errors', (_, loss, y) => {
    const draws = 4000;
    const rngs = Array.from({ length: n }, (_, r) => new Rng(100 + r));
    const out = new Float64Array(n * k);
    const sum = new Float64Array(n * k * k);
    const sq = new Float64Array(n * k * k);
    for (let t = 0; t < draws; t++) {
      loss.sampledGradient(z, y, n, k, rngs, out);
      for (let r = 0; r < n; r++) for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) {
        const v = out[r * k + i] * out[r * k + j];
        sum[(r * k + i) * k + j] += v;
        sq[(r * k + i) * k + j] += v * v;
      }
    }
    const e = new Float64Array(n * k);
    const h = new Float64Array(n * k);
    for (let r = 0; r < n; r++) for (let j = 0; j < k; j++) {
      e.fill(0);
      e[r * k + j] = n;
      loss.hessianVec(z, y, n, k, e, h);
      for (let i = 0; i < k; i++) {
        const c = (r * k + i) * k + j;
        const mean = sum[c] / draws;
        const se = Math.sqrt(Math.max(0, sq[c] / draws - mean * mean) / draws);
        expect(Math.abs(mean - h[r * k + i])).toBeLessThanOrEqual(4 * se + 1e-12);
      }
    }
  });
});

describe('type-2 factors of dense layers give the exact GGN block for one sample', () => {
  describe.each(['softmax-cross-entropy', 'mse'] as const)('%s', (loss) => {
    const net = new Network(B, [5], [dense({ units: 4, activation: 'tanh' }), dense({ units: 3, activation: 'relu' }), dense({ units: 3 })], { loss, seed: 2, threads: 1 });
    const rng = new Rng(3);
    const one: Batch = loss === 'mse' ? { x: randn(rng, 5), y: randn(rng, 3), n: 1 } : randomBatch(rng, [5], 1, 3);
    const G = assemble(new CurvatureOperator(net, one, { operator: 'gauss-newton' }));
    const K = assemble(kroneckerOperator(net, one, { kind: 'ggn' }));
    it.each([0, 1, 2])('layer %i: G ⊗ A equals its diagonal block of the GGN', (l) => {
      const { offset, size } = parameterBlocks(net)[l];
      const exact = subBlock(G, offset, size).flat();
      // Both float64, both exact: agreement to rounding (1e-13 relative).
      expect(maxRel(subBlock(K, offset, size).flat(), exact)).toBeLessThan(1e-13);
    });
  });
});

const NETS: { name: string; inShape: number[]; specs: LayerSpec[] }[] = [
  { name: 'rank 1 conv, stride 2, padding', inShape: [2, 9], specs: [conv({ channels: 3, kernel: 3, stride: 2, padding: 1, activation: 'tanh' }), flatten(), dense({ units: 3 })] },
  { name: 'rank 2 conv, batch norm, max-pool', inShape: [1, 6, 6], specs: [conv({ channels: 2, kernel: 3 }), batchNorm(), maxPool({ window: 2 }), flatten(), dense({ units: 3 })] },
  { name: 'rank 3 conv, dilation, residual', inShape: [1, 5, 5, 5], specs: [conv({ channels: 2, kernel: 2, dilation: 2, activation: 'relu' }), residual([conv({ channels: 2, kernel: 1, bias: false, activation: 'sigmoid' })]), flatten(), dense({ units: 3 })] },
];

describe.each(NETS)('the K-FAC operator of a $name net', ({ inShape, specs }) => {
  const net = new Network(B, inShape, specs, { seed: 4, threads: 1 });
  const data = randomBatch(new Rng(9), inShape, 7, 3);
  const op = kroneckerOperator(net, data, { kind: 'ggn' });
  const K = assemble(op);

  it('is symmetric and positive semi-definite', () => {
    expect(asymmetry(K)).toBeLessThan(1e-14);
    const e = exactEigen(K);
    expect(Math.min(...e.values)).toBeGreaterThan(-1e-13 * Math.max(...e.values));
  });

  it('its damped inverse inverts F + λI, exactly and in factored form', () => {
    const lambda = 0.3;
    const v = randn(new Rng(1), op.dim);
    const x = new Float64Array(op.dim);
    op.solve(v, x, lambda);
    const back = new Float64Array(op.dim);
    op.apply(x, back);
    for (let i = 0; i < back.length; i++) back[i] += lambda * x[i];
    // (F + λI) x = v to rounding: the eigendecompositions are exact to ~1e-15.
    expect(relError(back, v)).toBeLessThan(1e-12);
    // Factored Tikhonov: (G + γ/π I) ⊗ (A + πγ I) per block, from the factors directly.
    const damped = new KroneckerOperator(factoredDamped(op.factors, lambda), op.dim);
    op.solve(v, x, lambda, 'factored');
    damped.apply(x, back);
    expect(relError(back, v)).toBeLessThan(1e-12);
  });

  it('Lanczos, Hutchinson and SLQ run on it unchanged', () => {
    const e = exactEigen(K);
    const top = topEigenpairs(op, { k: 2, tol: 1e-10, maxSteps: op.dim });
    top.values.forEach((v, i) => expect(Math.abs(v - e.values[i])).toBeLessThan(1e-8 * e.values[0]));
    const trace = K.reduce((s, row, i) => s + row[i], 0);
    const t = hutchinsonTrace(op, { maxProbes: 300, seed: 2 });
    expect(Math.abs(t.trace - trace)).toBeLessThan(3 * t.stdError);
    const d = spectralDensity(op, { probes: 2, steps: 10, points: 50 });
    d.ritz.forEach((r) => expect(Math.abs(r.weights.reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-12));
  });

  it('factors over batches are the whole data set\'s (any batching gives the same A and G)', () => {
    const whole = dataFactors(net, data, { kind: 'ggn' });
    const parts = dataFactors(net, data, { kind: 'ggn', batchSize: 3 });
    // Batch norm's statistics are per batch, so only a net without it is batching-invariant.
    if (specs.some((s) => s.kind === 'batchNorm')) return;
    whole.kronecker.forEach((b, k) => {
      expect(maxRel(parts.kronecker[k].A, b.A)).toBeLessThan(1e-13);
      expect(maxRel(parts.kronecker[k].G, b.G)).toBeLessThan(1e-13);
    });
  });
});

describe('sampled-label factors estimate the exact ones', () => {
  it('the mean of Fisher G over seeds is the type-2 G within 3 standard errors', () => {
    const net = new Network(B, [1, 6, 6], [conv({ channels: 2, kernel: 3, activation: 'tanh' }), flatten(), dense({ units: 4 })], { seed: 6, threads: 1 });
    const data = randomBatch(new Rng(2), [1, 6, 6], 5, 4);
    const exact = net.kroneckerFactors(data, { kind: 'ggn' }).factors;
    const runs = Array.from({ length: 200 }, (_, s) => net.kroneckerFactors(data, { kind: 'fisher', seed: s + 1 }).factors);
    exact.kronecker.forEach((b, k) => {
      // A does not depend on the labels.
      expect(maxRel(runs[0].kronecker[k].A, b.A)).toBeLessThan(1e-15);
      for (let i = 0; i < b.G.length; i++) {
        const xs = runs.map((r) => r.kronecker[k].G[i]);
        const mean = xs.reduce((a, c) => a + c, 0) / xs.length;
        const se = Math.sqrt(xs.reduce((a, c) => a + (c - mean) ** 2, 0) / (xs.length - 1) / xs.length);
        expect(Math.abs(mean - b.G[i])).toBeLessThanOrEqual(3 * se + 1e-15);
      }
    });
  });

  it('the same seed draws the same labels; the empirical Fisher uses the true ones', () => {
    const net = new Network(B, [4], [dense({ units: 3 })], { seed: 1, threads: 1 });
    const data = randomBatch(new Rng(4), [4], 6, 3);
    const a = net.kroneckerFactors(data, { kind: 'fisher', seed: 3 }).factors.kronecker[0].G;
    const b = net.kroneckerFactors(data, { kind: 'fisher', seed: 3 }).factors.kronecker[0].G;
    expect(Array.from(a)).toEqual(Array.from(b));
    // One dense layer: G_emp = (1/n) Σ (p − e_y)(p − e_y)ᵀ, computed here from the outputs.
    const z = net.trainOutputs(data);
    const want = new Float64Array(9);
    for (let r = 0; r < 6; r++) {
      const m = Math.max(z[3 * r], z[3 * r + 1], z[3 * r + 2]);
      const e = [0, 1, 2].map((j) => Math.exp(z[3 * r + j] - m));
      const p = e.map((v) => v / (e[0] + e[1] + e[2]));
      const g = p.map((v, j) => v - (j === data.y[r] ? 1 : 0));
      for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) want[3 * i + j] += (g[i] * g[j]) / 6;
    }
    expect(maxRel(net.kroneckerFactors(data, { kind: 'empirical' }).factors.kronecker[0].G, want)).toBeLessThan(1e-14);
  });
});

/** Factors whose product is the factored-Tikhonov damped block (G + γ/π) ⊗ (A + πγ). */
function factoredDamped(f: KroneckerOperator['factors'], lambda: number): KroneckerOperator['factors'] {
  const gamma = Math.sqrt(lambda);
  return {
    ...f,
    kronecker: f.kronecker.map((b) => {
      const c = b.cols + (b.bias === null ? 0 : 1);
      let [trA, trG] = [0, 0];
      for (let i = 0; i < c; i++) trA += b.A[i * c + i];
      for (let i = 0; i < b.rows; i++) trG += b.G[i * b.rows + i];
      const pi = Math.sqrt(trA / c / (trG / b.rows));
      const A = b.A.slice();
      const G = b.G.slice();
      for (let i = 0; i < c; i++) A[i * c + i] += pi * gamma;
      for (let i = 0; i < b.rows; i++) G[i * b.rows + i] += gamma / pi;
      return { ...b, A, G };
    }),
    // Per-channel blocks take plain Tikhonov F + λI in both modes.
    channels: f.channels.map((b) => ({ ...b, F: b.F.map((v, i) => (i % 3 === 1 ? v : v + lambda)) })),
  };
}

describe('dropout masks given with setDropoutMasks', () => {
  it('reach the factor pass: its gradient is gradient()\'s under the same masks, and the factors follow the masks', () => {
    const net = new Network(B, [6], [dense({ units: 5, activation: 'tanh' }), dropout(0.5), dense({ units: 3 })], { seed: 3, threads: 1 });
    const data = randomBatch(new Rng(2), [6], 4, 3);
    const run = (mask: number[]) => {
      net.setDropoutMasks({ 'dropout#1': Float64Array.from(mask) });
      const [g, gf] = [new Float64Array(net.paramCount), new Float64Array(net.paramCount)];
      net.gradient(data, g);
      const { factors } = net.kroneckerFactors(data, { kind: 'empirical' }, gf);
      expect(maxRel(gf, g)).toBeLessThan(1e-14);
      return factors.kronecker[1].A;
    };
    // The second dense layer's input statistics: a dropped unit's row and column of A are zero
    // (inverted dropout scales the kept ones by 2).
    const keepAll = run(Array(20).fill(1));
    const dropFirst = run(Array.from({ length: 20 }, (_, i) => (i % 5 === 0 ? 0 : 1)));
    const c = 6; // 5 inputs and the bias coordinate
    expect(keepAll[0]).toBeGreaterThan(0);
    for (let j = 0; j < c; j++) expect(dropFirst[j]).toBe(0);
    net.setDropoutMasks(null);
  });
});

describe('without the OpenBLAS addon (NDCNN_GEMM=js: JS eigensolver and products)', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
    vi.resetModules();
  });
  it('the operator, its damped inverse and the eigensolver agree with the native ones', async () => {
    const net = new Network(B, [1, 6, 6], [conv({ channels: 3, kernel: 3, activation: 'tanh' }), flatten(), dense({ units: 70 }), dense({ units: 3 })], { seed: 5, threads: 1 });
    const data = randomBatch(new Rng(3), [1, 6, 6], 9, 3);
    const factors = dataFactors(net, data, { kind: 'ggn' });
    vi.stubEnv('NDCNN_GEMM', 'js');
    vi.resetModules();
    const js = await import('../../src/analysis/index.js');
    expect(js.eigenSolver).toBe('js');
    const [a, b] = [new KroneckerOperator(factors, net.paramCount), new js.KroneckerOperator(factors, net.paramCount)];
    const v = randn(new Rng(4), net.paramCount);
    const [x, y] = [new Float64Array(v.length), new Float64Array(v.length)];
    a.apply(v, x);
    b.apply(v, y);
    expect(maxRel(y, x)).toBeLessThan(1e-13);
    a.solve(v, x, 0.1);
    b.solve(v, y, 0.1);
    // Two eigensolvers: the same inverse to rounding in the eigenvectors (~n·ε).
    expect(maxRel(y, x)).toBeLessThan(1e-10);
  });
});
