/**
 * Pearlmutter's R-operator: Hv and Gv for every layer and whole networks, float64, ranks 1-3.
 * Hv is compared with central differences of exact gradients, (∇f(θ+hv) − ∇f(θ−hv)) / 2h, whose
 * truncation error is O(h²) ≈ 1e-10 relative; 1e-6 leaves a wide margin (see helpers.ts).
 */
import { describe, expect, it } from 'vitest';
import { conv, dense, flatten, maxPool, type LayerSpec } from '../../src/layers/index.js';
import { Network } from '../../src/network/index.js';
import { cpuBackend } from '../../src/nd/backends/cpu/index.js';
import type { Batch } from '../../src/nd/model.js';
import { Rng } from '../../src/nd/rng.js';
import { dot } from '../../src/nd/vec.js';
import { numericHv, randn, randomBatch, relError } from '../helpers.js';

const B = cpuBackend('float64');
const FD = 1e-6;
const SPATIAL: Record<number, number[]> = { 1: [12], 2: [7, 8], 3: [5, 6, 5] };

function setup(inShape: number[], specs: LayerSpec[], loss: 'mse' | 'softmax-cross-entropy', seed = 1) {
  const net = new Network(B, inShape, specs, { loss, seed });
  const rng = new Rng(seed + 100);
  const k = net.outShape[0];
  const b = randomBatch(rng, inShape, 3, k);
  const batch: Batch = loss === 'mse' ? { ...b, y: randn(rng, 3 * k) } : b;
  return { net, batch, rng };
}

function products(net: Network, batch: Batch, v: Float64Array) {
  const c = net.curvature(batch);
  const hv = new Float64Array(net.paramCount);
  const gv = new Float64Array(net.paramCount);
  c.hv(v, hv);
  c.gv(v, gv);
  return { c, hv, gv };
}

describe('Hv against finite differences of the gradient, each layer alone', () => {
  for (const rank of [1, 2, 3]) {
    const inShape = [2, ...SPATIAL[rank]];
    const layers: [string, LayerSpec[]][] = [
      ['conv (tanh, stride 2, padding 1)', [conv({ channels: 2, kernel: 2, activation: 'tanh', stride: 2, padding: 1 })]],
      ['conv (sigmoid, dilation 2)', [conv({ channels: 2, kernel: 2, activation: 'sigmoid', dilation: 2 })]],
      ['conv (relu)', [conv({ channels: 2, kernel: 3, activation: 'relu' })]],
      ['max-pool after conv', [conv({ channels: 2, kernel: 2 }), maxPool({ window: 2 })]],
    ];
    for (const [what, specs] of layers) {
      it(`rank ${rank}: ${what}`, () => {
        const { net, batch, rng } = setup(inShape, [...specs, flatten()], 'mse');
        const v = randn(rng, net.paramCount);
        expect(relError(products(net, batch, v).hv, numericHv(net, batch, v))).toBeLessThan(FD);
      });
    }
  }
  it.each(['identity', 'sigmoid', 'tanh', 'relu'] as const)('dense (%s), softmax cross-entropy', (act) => {
    const { net, batch, rng } = setup([6], [dense({ units: 5, activation: act }), dense({ units: 3 })], 'softmax-cross-entropy');
    const v = randn(rng, net.paramCount);
    expect(relError(products(net, batch, v).hv, numericHv(net, batch, v))).toBeLessThan(FD);
  });
});

describe('Hv against finite differences, whole networks conv → pool → dense', () => {
  for (const rank of [1, 2, 3]) {
    for (const act of ['sigmoid', 'tanh', 'relu'] as const) {
      it(`rank ${rank}, ${act}`, () => {
        const { net, batch, rng } = setup([1, ...SPATIAL[rank]], [
          conv({ channels: 3, kernel: 2, activation: act, padding: 1 }),
          maxPool({ window: 2 }),
          conv({ channels: 2, kernel: 2, activation: act }),
          flatten(),
          dense({ units: 5, activation: act }),
          dense({ units: 3 }),
        ], 'softmax-cross-entropy', rank);
        const v = randn(rng, net.paramCount);
        expect(relError(products(net, batch, v).hv, numericHv(net, batch, v))).toBeLessThan(FD);
      });
    }
  }
});

describe('symmetry and positive semi-definiteness', () => {
  it.each([1, 2, 3])('rank %i: uᵀHv = vᵀHu, uᵀGv = vᵀGu, vᵀGv ≥ 0', (rank) => {
    const { net, batch, rng } = setup([1, ...SPATIAL[rank]], [
      conv({ channels: 2, kernel: 3, activation: 'tanh' }), maxPool({ window: 2 }), flatten(), dense({ units: 4 }),
    ], 'softmax-cross-entropy');
    const u = randn(rng, net.paramCount);
    const v = randn(rng, net.paramCount);
    const c = net.curvature(batch);
    const [hu, hv, gu, gv] = [0, 0, 0, 0].map(() => new Float64Array(net.paramCount));
    c.hv(u, hu);
    c.hv(v, hv);
    c.gv(u, gu);
    c.gv(v, gv);
    // Both sides sum the same products in another order: agreement to ~1e-13 of their scale.
    const scale = Math.sqrt(dot(u, u) * dot(hv, hv));
    expect(Math.abs(dot(u, hv) - dot(v, hu)) / scale).toBeLessThan(1e-12);
    expect(Math.abs(dot(u, gv) - dot(v, gu)) / scale).toBeLessThan(1e-12);
    for (let t = 0; t < 5; t++) {
      const w = randn(rng, net.paramCount);
      const gw = new Float64Array(net.paramCount);
      c.gv(w, gw);
      expect(dot(w, gw)).toBeGreaterThanOrEqual(0);
    }
  });
});

describe('Gv = Jᵀ H_L J', () => {
  it('equals the explicitly assembled matrix (J by finite differences) on a tiny network', () => {
    const { net, batch, rng } = setup([1, 5, 4], [conv({ channels: 2, kernel: 2, activation: 'tanh' }), flatten(), dense({ units: 3 })], 'softmax-cross-entropy');
    const P = net.paramCount;
    const K = batch.n * net.outShape[0];
    const z0 = net.predict(batch.x, batch.n);
    // J[r, j] = ∂z_r/∂θ_j by central differences (h = 1e-6: error ~1e-12 of the entries).
    const J = Array.from({ length: K }, () => new Float64Array(P));
    const h = 1e-6;
    for (let j = 0; j < P; j++) {
      const t = net.params[j];
      net.params[j] = t + h;
      const zp = net.predict(batch.x, batch.n);
      net.params[j] = t - h;
      const zm = net.predict(batch.x, batch.n);
      net.params[j] = t;
      for (let r = 0; r < K; r++) J[r][j] = (zp[r] - zm[r]) / (2 * h);
    }
    const v = randn(rng, P);
    const Jv = J.map((row) => dot(row, v));
    const HJv = new Float64Array(K);
    net.lossFn.hessianVec(z0, batch.y, batch.n, net.outShape[0], Jv, HJv);
    const explicit = new Float64Array(P);
    for (let r = 0; r < K; r++) for (let j = 0; j < P; j++) explicit[j] += J[r][j] * HJv[r];
    expect(relError(products(net, batch, v).gv, explicit)).toBeLessThan(1e-7);
  });

  it.each([
    ['one conv layer', [1, 6, 5], [conv({ channels: 2, kernel: 3 }), flatten()]],
    ['one dense layer', [7], [dense({ units: 3 })]],
  ] as [string, number[], LayerSpec[]][])('equals Hv when the outputs are linear in the parameters: %s, identity, mse', (_, inShape, specs) => {
    const { net, batch, rng } = setup(inShape, specs, 'mse');
    const v = randn(rng, net.paramCount);
    const { hv, gv } = products(net, batch, v);
    expect(relError(gv, hv)).toBeLessThan(1e-13);
  });

  it.each([
    ['a second linear layer', [conv({ channels: 2, kernel: 2 }), flatten(), dense({ units: 3 })]],
    ['a non-linearity', [conv({ channels: 2, kernel: 2, activation: 'tanh' }), flatten()]],
  ] as [string, LayerSpec[]][])('differs from Hv once %s enters', (_, specs) => {
    const { net, batch, rng } = setup([1, 6, 5], specs, 'mse');
    const v = randn(rng, net.paramCount);
    const { hv, gv } = products(net, batch, v);
    expect(relError(gv, hv)).toBeGreaterThan(1e-3);
  });
});

describe('curvature at fixed parameters', () => {
  it('reuses its forward pass, and stays right after other forward passes move the layers on', () => {
    const { net, batch, rng } = setup([1, 8, 8], [conv({ channels: 2, kernel: 3, activation: 'tanh' }), maxPool({ window: 2 }), flatten(), dense({ units: 3 })], 'softmax-cross-entropy');
    const v = randn(rng, net.paramCount);
    const { c, gv, hv } = products(net, batch, v);
    // Move the parameters and run forward passes on another batch, as HF's line search does.
    const saved = net.params.slice();
    for (let i = 0; i < net.paramCount; i++) net.params[i] += 0.1;
    net.loss(randomBatch(rng, [1, 8, 8], 5, 3));
    const gv2 = new Float64Array(net.paramCount);
    const hv2 = new Float64Array(net.paramCount);
    c.gv(v, gv2);
    c.hv(v, hv2);
    expect(Array.from(gv2)).toEqual(Array.from(gv));
    expect(Array.from(hv2)).toEqual(Array.from(hv));
    net.params.set(saved);
  });
});
