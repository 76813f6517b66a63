/**
 * Batch normalisation, float64, ranks 1-3 and flat inputs: each equation of batchnorm.ts against
 * a direct per-channel formula, central finite differences of the gradient and of Hv (bounds
 * justified in helpers.ts: exact derivatives agree to ~1e-8, we allow 1e-6), the symmetry
 * uᵀHv = vᵀHu and Gv = JᵀH_L J with J assembled by finite differences.
 * FD w.r.t. parameters is well-defined in training mode: batch statistics are a deterministic
 * function of the batch and parameters.
 */
import { describe, expect, it } from 'vitest';
import { activation, batchNorm, buildLayer, conv, dense, dropout, flatten, maxPool, residual, type LayerSpec } from '../../src/layers/index.js';
import { Network } from '../../src/network/index.js';
import { cpuBackend } from '../../src/nd/backends/cpu/index.js';
import type { Batch } from '../../src/nd/model.js';
import { Rng } from '../../src/nd/rng.js';
import { sizeOf } from '../../src/nd/shape.js';
import { dot } from '../../src/nd/vec.js';
import { numericGradient, numericHv, randn, randomBatch, relError } from '../helpers.js';

const B = cpuBackend('float64');
const FD = 1e-6;
const SHAPES: [string, number[]][] = [['flat [5]', [5]], ['rank 1', [3, 7]], ['rank 2', [2, 4, 5]], ['rank 3', [2, 3, 4, 3]]];

/** Per-channel views of x [N, C, inner]: the m = N·inner values of each channel. */
function channels(x: Float64Array, N: number, C: number): number[][] {
  const inner = x.length / (N * C);
  const out: number[][] = Array.from({ length: C }, () => []);
  for (let i = 0; i < x.length; i++) out[Math.floor(i / inner) % C].push(x[i]);
  return out;
}
const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;

/** y = γ·(x − μ)/√(σ² + ε) + β with the biased batch variance, written per element. */
function directForward(x: Float64Array, N: number, C: number, gamma: Float64Array, beta: Float64Array, eps: number) {
  const inner = x.length / (N * C);
  const stats = channels(x, N, C).map((v) => {
    const mu = mean(v);
    return { mu, var: mean(v.map((e) => (e - mu) ** 2)) };
  });
  return { stats, y: x.map((v, i) => {
    const c = Math.floor(i / inner) % C;
    return (gamma[c] * (v - stats[c].mu)) / Math.sqrt(stats[c].var + eps) + beta[c];
  }) };
}

function layerSetup(inShape: number[], seed = 1) {
  const layer = buildLayer(B, 0, inShape, batchNorm());
  const rng = new Rng(seed);
  const C = inShape[0];
  const [gamma, beta] = [randn(rng, C, 0.5).map((v) => v + 1), randn(rng, C, 0.5)];
  const xShape = [3, ...inShape];
  const x = randn(rng, sizeOf(xShape), 2).map((v, i) => v + (i % 3));
  return { layer, rng, C, gamma, beta, xShape, x, p: () => [B.wrap([C], gamma), B.wrap([C], beta)] };
}

describe('batch norm forward: y = γ·(x − μ)/√(σ² + ε) + β per channel over N and space', () => {
  it.each(SHAPES)('%s: training forward equals the direct formula', (_, inShape) => {
    const { layer, C, gamma, beta, xShape, x, p } = layerSetup(inShape);
    const y = B.download(layer.forward(B.wrap(xShape, x), p()));
    expect(relError(y, directForward(x, 3, C, gamma, beta, 1e-5).y)).toBeLessThan(1e-14);
  });

  it.each(SHAPES)('%s: running ← 0.9·running + 0.1·batch (unbiased variance); evaluation uses them', (_, inShape) => {
    const { layer, rng, C, gamma, beta, xShape, x, p } = layerSetup(inShape);
    const buf = (name: string) => layer.buffers!.find((b) => b.name === name)!.data;
    const want = { mean: new Float64Array(C), var: new Float64Array(C).fill(1) };
    for (let t = 0; t < 3; t++) {
      const xt = t === 0 ? x : randn(rng, x.length, 1.5);
      layer.forward(B.wrap(xShape, xt), p(), { training: true, updateStats: true, keys: null });
      const m = x.length / C;
      directForward(xt, 3, C, gamma, beta, 1e-5).stats.forEach((s, c) => {
        want.mean[c] = 0.9 * want.mean[c] + 0.1 * s.mu;
        want.var[c] = 0.9 * want.var[c] + 0.1 * ((s.var * m) / (m - 1));
      });
    }
    expect(relError(buf('running_mean'), want.mean)).toBeLessThan(1e-14);
    expect(relError(buf('running_var'), want.var)).toBeLessThan(1e-14);
    expect(buf('num_batches_tracked')[0]).toBe(3);
    const y = B.download(layer.forward(B.wrap(xShape, x), p(), { training: false, updateStats: false, keys: null }));
    const inner = x.length / (3 * C);
    const direct = x.map((v, i) => {
      const c = Math.floor(i / inner) % C;
      return (gamma[c] * (v - want.mean[c])) / Math.sqrt(want.var[c] + 1e-5) + beta[c];
    });
    expect(relError(y, direct)).toBeLessThan(1e-14);
  });

  it.each(SHAPES)('%s: evaluation-mode backward (dx = a·g, dγ = Σ g·x̂, dβ = Σ g on the running statistics) against finite differences', (_, inShape) => {
    const { layer, rng, C, gamma, beta, xShape, x, p } = layerSetup(inShape);
    const buf = (name: string) => layer.buffers!.find((b) => b.name === name)!.data;
    buf('running_mean').set(randn(rng, C, 0.5));
    buf('running_var').set(randn(rng, C, 0.3).map((v) => 1 + Math.abs(v)));
    const evaluation = { training: false, updateStats: false, keys: null };
    const r = randn(rng, x.length);
    const E = () => dot(B.download(layer.forward(B.wrap(xShape, x), p(), evaluation)), r);
    E();
    const grads = [new Float64Array(C), new Float64Array(C)];
    const dx = B.download(layer.backward(B.upload(xShape, r), grads.map((g) => B.wrap([C], g))));
    expect(relError(dx, numericGradient(E, x))).toBeLessThan(FD);
    expect(relError(grads[0], numericGradient(E, gamma))).toBeLessThan(FD);
    expect(relError(grads[1], numericGradient(E, beta))).toBeLessThan(FD);
  });
});

describe('batch norm backward: dx = s·γ·(g − mean g − x̂·mean(x̂·g)), dγ = Σ g·x̂, dβ = Σ g', () => {
  it.each(SHAPES)('%s: equals the direct formula and finite differences w.r.t. x, γ, β', (_, inShape) => {
    const { layer, rng, C, gamma, beta, xShape, x, p } = layerSetup(inShape);
    const r = randn(rng, x.length);
    const E = () => dot(B.download(layer.forward(B.wrap(xShape, x), p())), r);
    E();
    const grads = [new Float64Array(C), new Float64Array(C)];
    const dx = B.download(layer.backward(B.upload(xShape, r), grads.map((g) => B.wrap([C], g))));
    // The direct formula, channel by channel.
    const inner = x.length / (3 * C);
    const { stats } = directForward(x, 3, C, gamma, beta, 1e-5);
    const xhat = x.map((v, i) => { const c = Math.floor(i / inner) % C; return (v - stats[c].mu) / Math.sqrt(stats[c].var + 1e-5); });
    const gs = channels(r, 3, C);
    const xgs = channels(xhat.map((v, i) => v * r[i]), 3, C);
    const direct = r.map((g, i) => {
      const c = Math.floor(i / inner) % C;
      return (gamma[c] / Math.sqrt(stats[c].var + 1e-5)) * (g - mean(gs[c]) - xhat[i] * mean(xgs[c]));
    });
    expect(relError(dx, direct)).toBeLessThan(1e-13);
    expect(relError(grads[0], xgs.map((v) => v.reduce((s, e) => s + e, 0)))).toBeLessThan(1e-13);
    expect(relError(grads[1], gs.map((v) => v.reduce((s, e) => s + e, 0)))).toBeLessThan(1e-13);
    expect(relError(dx, numericGradient(E, x))).toBeLessThan(FD);
    expect(relError(grads[0], numericGradient(E, gamma))).toBeLessThan(FD);
    expect(relError(grads[1], numericGradient(E, beta))).toBeLessThan(FD);
  });
});

const NETS: Record<number, { inShape: number[]; specs: LayerSpec[] }> = {
  1: { inShape: [2, 10], specs: [conv({ channels: 3, kernel: 3 }), batchNorm(), conv({ channels: 2, kernel: 2, activation: 'tanh' }), flatten(), dense({ units: 4 }), batchNorm(), dense({ units: 3 })] },
  2: { inShape: [1, 6, 5], specs: [conv({ channels: 2, kernel: 2 }), batchNorm({ eps: 1e-3 }), conv({ channels: 2, kernel: 2, activation: 'sigmoid' }), maxPool({ window: 2 }), flatten(), dense({ units: 3 })] },
  3: { inShape: [1, 4, 5, 4], specs: [conv({ channels: 2, kernel: 2, activation: 'tanh' }), batchNorm(), flatten(), dense({ units: 3 })] },
};

function netSetup(rank: number, loss: 'mse' | 'softmax-cross-entropy' = 'softmax-cross-entropy') {
  const { inShape, specs } = NETS[rank];
  const net = new Network(B, inShape, specs, { loss, seed: rank });
  const rng = new Rng(40 + rank);
  // Perturb γ and β away from 1 and 0 so that every term of the R-rules is exercised.
  for (let i = 0; i < net.paramCount; i++) net.params[i] += 0.3 * rng.normal();
  const k = net.outShape[0];
  const b = randomBatch(rng, inShape, 4, k);
  const batch: Batch = loss === 'mse' ? { ...b, y: randn(rng, 4 * k) } : b;
  return { net, batch, rng };
}

describe('batch norm curvature (exact R-operator through the batch statistics)', () => {
  for (const rank of [1, 2, 3]) {
    for (const loss of ['softmax-cross-entropy', 'mse'] as const) {
      it(`rank ${rank}, ${loss}: gradient and Hv against finite differences`, () => {
        const { net, batch, rng } = netSetup(rank, loss);
        const g = new Float64Array(net.paramCount);
        net.gradient(batch, g);
        expect(relError(g, numericGradient(() => net.loss(batch), net.params))).toBeLessThan(FD);
        const v = randn(rng, net.paramCount);
        const hv = new Float64Array(net.paramCount);
        net.curvature(batch).hv(v, hv);
        expect(relError(hv, numericHv(net, batch, v))).toBeLessThan(FD);
      });
    }
    it(`rank ${rank}: uᵀHv = vᵀHu, uᵀGv = vᵀGu, vᵀGv ≥ 0`, () => {
      const { net, batch, rng } = netSetup(rank);
      const [u, v] = [randn(rng, net.paramCount), randn(rng, net.paramCount)];
      const c = net.curvature(batch);
      const [hu, hv, gu, gv] = [0, 0, 0, 0].map(() => new Float64Array(net.paramCount));
      c.hv(u, hu);
      c.hv(v, hv);
      c.gv(u, gu);
      c.gv(v, gv);
      // The same products summed in another order: agreement to ~1e-13 of their scale.
      const scale = Math.sqrt(dot(u, u) * dot(hv, hv));
      expect(Math.abs(dot(u, hv) - dot(v, hu)) / scale).toBeLessThan(1e-12);
      expect(Math.abs(dot(u, gv) - dot(v, gu)) / scale).toBeLessThan(1e-12);
      expect(dot(v, gv)).toBeGreaterThanOrEqual(0);
    });
  }

  it('Gv = Jᵀ H_L J with J of the training-mode outputs by finite differences (rank 2)', () => {
    const { net, batch, rng } = netSetup(2);
    const P = net.paramCount;
    const K = batch.n * net.outShape[0];
    const z0 = net.trainOutputs(batch);
    // Central differences with h = 1e-6: error ~1e-11 of the entries.
    const J = Array.from({ length: K }, () => new Float64Array(P));
    const h = 1e-6;
    for (let j = 0; j < P; j++) {
      const t = net.params[j];
      net.params[j] = t + h;
      const zp = net.trainOutputs(batch);
      net.params[j] = t - h;
      const zm = net.trainOutputs(batch);
      net.params[j] = t;
      for (let r = 0; r < K; r++) J[r][j] = (zp[r] - zm[r]) / (2 * h);
    }
    const v = randn(rng, P);
    const HJv = new Float64Array(K);
    net.lossFn.hessianVec(z0, batch.y, batch.n, net.outShape[0], J.map((row) => dot(row, v)), HJv);
    const explicit = new Float64Array(P);
    for (let r = 0; r < K; r++) for (let j = 0; j < P; j++) explicit[j] += J[r][j] * HJv[r];
    const gv = new Float64Array(P);
    net.curvature(batch).gv(v, gv);
    expect(relError(gv, explicit)).toBeLessThan(1e-7);
  });

  it('only gradient passes update the running statistics; state() round-trips them', () => {
    const { net, batch } = netSetup(1);
    const before = net.state();
    net.loss(batch);
    net.curvature(batch).hv(new Float64Array(net.paramCount), new Float64Array(net.paramCount));
    net.predict(batch.x, batch.n);
    expect(net.state()).toEqual(before);
    net.gradient(batch, new Float64Array(net.paramCount));
    const after = net.state();
    expect(after.buffers['1.running_mean']).not.toEqual(before.buffers['1.running_mean']);
    expect(after.buffers['1.num_batches_tracked']).toEqual([1]);
    const copy = netSetup(1).net;
    copy.loadState(after);
    expect(copy.state()).toEqual(after);
    expect(() => copy.loadState({ ...after, buffers: { ...after.buffers, '1.running_var': [1] } })).toThrow(/'1.running_var' should be 3/);
  });

  it('rejects a running-variance update from one value per channel', () => {
    const net = new Network(B, [4], [dense({ units: 3 }), batchNorm(), dense({ units: 2 })]);
    const one = randomBatch(new Rng(1), [4], 1, 2);
    expect(() => net.gradient(one, new Float64Array(net.paramCount))).toThrow(/1 value per channel/);
  });
});

describe('batch norm in float32 on the CPU', () => {
  it.each([1, 2, 3])('rank %i: gradient and Hv agree with float64 to float32 rounding', (rank) => {
    const { net, batch, rng } = netSetup(rank);
    const net32 = new Network(cpuBackend('float32'), NETS[rank].inShape, NETS[rank].specs, { seed: rank });
    net32.setParams(net.params);
    const b32 = { x: Float32Array.from(batch.x), y: batch.y, n: batch.n };
    const v = randn(rng, net.paramCount);
    const [g64, g32, h64, h32] = [new Float64Array(net.paramCount), new Float32Array(net.paramCount), new Float64Array(net.paramCount), new Float32Array(net.paramCount)];
    net.gradient({ ...batch, x: Float64Array.from(b32.x) }, g64);
    net32.gradient(b32, g32);
    net.curvature({ ...batch, x: Float64Array.from(b32.x) }).hv(v, h64);
    net32.curvature(b32).hv(Float32Array.from(v), h32);
    // Sums of at most a few hundred float32 terms through a few layers: ~1e-6 measured; 1e-4
    // allows for the rounding of v, while a wrong term is off by O(1).
    expect(relError(g32, g64)).toBeLessThan(1e-4);
    expect(relError(h32, h64)).toBeLessThan(1e-4);
  });
});

describe('batch norm and dropout inside a residual block', () => {
  const specs = (): LayerSpec[] => [
    conv({ channels: 2, kernel: 3, padding: 1 }),
    residual([conv({ channels: 2, kernel: 3, padding: 1 }), batchNorm(), activation('tanh'), dropout(0.3)]),
    flatten(),
    dense({ units: 3 }),
  ];

  it('the block passes the mode on: Hv by finite differences; evaluation is per sample with the running statistics', () => {
    const net = new Network(B, [1, 5, 4], specs(), { seed: 2 });
    const rng = new Rng(9);
    const batch = randomBatch(rng, [1, 5, 4], 4, 3);
    net.gradient(batch, new Float64Array(net.paramCount));
    const v = randn(rng, net.paramCount);
    const hv = new Float64Array(net.paramCount);
    net.curvature(batch).hv(v, hv);
    expect(relError(hv, numericHv(net, batch, v))).toBeLessThan(FD);
    expect(net.state().buffers['1.body.1.num_batches_tracked']).toEqual([3]);
    // Evaluation normalises with the running statistics, so a sample's output is its own alone.
    const all = net.predict(batch.x, 4);
    const first = net.predict(batch.x.subarray(0, 20), 1);
    expect(relError(first, all.subarray(0, 3))).toBeLessThan(1e-14);
  });
});

describe('recomputeStatistics', () => {
  const x = Float64Array.from({ length: 10 * 3 }, (_, i) => Math.sin(i * 1.3) * (1 + (i % 3)) + (i % 3));
  const make = (threads: number) => new Network(cpuBackend('float64'), [3], [batchNorm(), dense({ units: 2 })], { threads });

  it("resets the running statistics and averages the chunks' batch statistics (PyTorch's update_bn), at 1 and 2 threads", () => {
    for (const threads of [1, 2]) {
      const net = make(threads);
      // Stale statistics from some gradient passes, which the recomputation must forget.
      net.gradient({ x: x.subarray(0, 12), y: new Int32Array(4), n: 4 }, new Float64Array(net.paramCount));
      net.recomputeStatistics(x, 10, 5);
      const { buffers } = net.state();
      for (let c = 0; c < 3; c++) {
        const chunk = (k: number) => Array.from({ length: 5 }, (_, i) => x[(5 * k + i) * 3 + c]);
        const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
        const unbiased = (v: number[]) => v.reduce((a, b) => a + (b - mean(v)) ** 2, 0) / (v.length - 1);
        const [a, b] = [chunk(0), chunk(1)];
        // float64 arithmetic in another order: 1e-12.
        expect(buffers['0.running_mean'][c]).toBeCloseTo((mean(a) + mean(b)) / 2, 12);
        expect(buffers['0.running_var'][c]).toBeCloseTo((unbiased(a) + unbiased(b)) / 2, 12);
      }
      expect(buffers['0.num_batches_tracked']).toEqual([2]);
      net.dispose();
    }
  });

  it('splits n into equal chunks (none of one sample) and refuses fewer than 2 samples', () => {
    const net = make(1);
    net.recomputeStatistics(x.subarray(0, 9), 3, 2);
    expect(net.state().buffers['0.num_batches_tracked']).toEqual([1]);
    expect(() => net.recomputeStatistics(x.subarray(0, 3), 1)).toThrow('recomputeStatistics: batch statistics need at least 2 samples');
  });
});
