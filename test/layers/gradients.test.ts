/**
 * Central finite differences in float64 against every backward rule: each layer type, option
 * combination and rank, w.r.t. inputs and parameters, then whole networks. The bound 1e-6 on the
 * relative error is justified in helpers.ts (the exact gradient agrees to ~1e-8).
 */
import { describe, expect, it } from 'vitest';
import { activation, buildLayer, conv, dense, flatten, maxPool, type LayerSpec } from '../../src/layers/index.js';
import { Network } from '../../src/network/index.js';
import { ACTIVATIONS } from '../../src/nd/backend.js';
import { cpuBackend } from '../../src/nd/backends/cpu/index.js';
import { Rng } from '../../src/nd/rng.js';
import { sizeOf } from '../../src/nd/shape.js';
import { dot } from '../../src/nd/vec.js';
import { numericGradient, randn, randomBatch, relError } from '../helpers.js';

const B = cpuBackend('float64');
const FD = 1e-6;

/** E = ⟨r, layer(x)⟩ for a fixed random r, so dE/dy = r and backward(r) must equal ∇E. */
function checkLayer(spec: LayerSpec, inShape: number[], seed = 1) {
  const layer = buildLayer(B, 0, inShape, spec);
  const rng = new Rng(seed);
  const params = layer.paramShapes.map((s) => randn(rng, sizeOf(s), 0.5));
  const xShape = [2, ...inShape];
  const x = randn(rng, sizeOf(xShape));
  const r = randn(rng, 2 * sizeOf(layer.outShape));
  const wrapped = () => params.map((p, i) => B.wrap(layer.paramShapes[i], p));
  const E = () => dot(B.download(layer.forward(B.wrap(xShape, x), wrapped())), r);
  E();
  const grads = params.map((p) => new Float64Array(p.length));
  const dx = B.download(layer.backward(B.upload([2, ...layer.outShape], r), grads.map((g, i) => B.wrap(layer.paramShapes[i], g))));
  expect(relError(dx, numericGradient(E, x))).toBeLessThan(FD);
  params.forEach((p, i) => expect(relError(grads[i], numericGradient(E, p))).toBeLessThan(FD));
}

describe("deltas: dE/dx = dE/dy · σ'(x)", () => {
  const sigma: Record<string, [(x: number) => number, (x: number) => number]> = {
    identity: [(x) => x, () => 1],
    sigmoid: [(x) => 1 / (1 + Math.exp(-x)), (x) => Math.exp(-x) / (1 + Math.exp(-x)) ** 2],
    tanh: [Math.tanh, (x) => 1 / Math.cosh(x) ** 2],
    relu: [(x) => Math.max(0, x), (x) => (x > 0 ? 1 : 0)],
    'leaky-relu': [(x) => (x > 0 ? x : 0.01 * x), (x) => (x > 0 ? 1 : 0.01)],
    // ½x(1 + tanh u), u = √(2/π)(x + 0.044715x³): d/dx by the product and chain rules.
    'gelu-tanh': [
      (x) => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3))),
      (x) => {
        const u = Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3);
        return 0.5 * (1 + Math.tanh(u)) + (0.5 * x * Math.sqrt(2 / Math.PI) * (1 + 3 * 0.044715 * x * x)) / Math.cosh(u) ** 2;
      },
    ],
    softplus: [(x) => Math.log(1 + Math.exp(x)), (x) => 1 / (1 + Math.exp(-x))],
  };
  it.each(ACTIVATIONS)('%s: backward equals the product with the textbook derivative, and finite differences', (kind) => {
    const layer = buildLayer(B, 0, [3, 5], activation(kind));
    const rng = new Rng(7);
    const x = randn(rng, 30);
    const dy = randn(rng, 30);
    const y = B.download(layer.forward(B.upload([2, 3, 5], x), []));
    expect(relError(y, x.map(sigma[kind][0]))).toBeLessThan(1e-15);
    const dx = B.download(layer.backward(B.upload([2, 3, 5], dy), null));
    expect(relError(dx, x.map((v, i) => dy[i] * sigma[kind][1](v)))).toBeLessThan(1e-14);
    checkLayer(activation(kind), [3, 5]);
  });
});

describe('finite differences: each layer w.r.t. inputs and parameters', () => {
  const spatial = { 1: [9], 2: [6, 5], 3: [4, 5, 4] } as const;
  const options = [
    {},
    { stride: 2 },
    { padding: 1 },
    { dilation: 2 },
    { stride: 2, padding: 1, dilation: 2 },
  ];
  for (const rank of [1, 2, 3] as const) {
    for (const o of options) {
      it(`conv rank ${rank} ${JSON.stringify(o)} with tanh`, () => {
        checkLayer(conv({ channels: 2, kernel: 2, activation: 'tanh', ...o }), [2, ...spatial[rank]]);
      });
    }
    it(`conv rank ${rank} without bias, relu`, () => {
      checkLayer(conv({ channels: 3, kernel: 3, bias: false, activation: 'relu', padding: 1 }), [2, ...spatial[rank]]);
    });
    it(`max-pool rank ${rank}, disjoint and overlapping windows`, () => {
      checkLayer(maxPool({ window: 2 }), [2, ...spatial[rank]]);
      checkLayer(maxPool({ window: 3, stride: 1 }), [2, ...spatial[rank]]);
    });
    it(`flatten rank ${rank}`, () => checkLayer(flatten(), [2, ...spatial[rank]]));
  }
  it.each(ACTIVATIONS)('dense with %s', (kind) => checkLayer(dense({ units: 4, activation: kind }), [7]));
});

describe('finite differences: whole networks, every rank and loss', () => {
  const nets: Record<number, number[]> = { 1: [2, 16], 2: [1, 9, 10], 3: [1, 6, 7, 6] };
  for (const rank of [1, 2, 3]) {
    for (const act of ['sigmoid', 'tanh', 'relu'] as const) {
      for (const loss of ['softmax-cross-entropy', 'mse'] as const) {
        it(`rank ${rank}: conv → pool → conv → dense (${act}, ${loss})`, () => {
          const net = new Network(B, nets[rank], [
            conv({ channels: 3, kernel: 3, activation: act, padding: 1 }),
            maxPool({ window: 2 }),
            conv({ channels: 2, kernel: 2, activation: act, dilation: rank === 1 ? 2 : 1 }),
            flatten(),
            dense({ units: 4 }),
          ], { loss, seed: rank });
          const rng = new Rng(11);
          const b = randomBatch(rng, nets[rank], 3, 4);
          const batch = loss === 'mse' ? { ...b, y: randn(rng, 12) } : b;
          const g = new Float64Array(net.paramCount);
          const value = net.gradient(batch, g);
          expect(value).toBeCloseTo(net.loss(batch), 14);
          expect(relError(g, numericGradient(() => net.loss(batch), net.params))).toBeLessThan(FD);
        });
      }
    }
  }
});

describe('float32 backend', () => {
  it('gives the float64 gradient to float32 precision', () => {
    const specs = [conv({ channels: 4, kernel: 3, activation: 'tanh' }), maxPool({ window: 2 }), flatten(), dense({ units: 3 })];
    const n64 = new Network(cpuBackend('float64'), [2, 10, 10], specs, { seed: 4 });
    const n32 = new Network(cpuBackend('float32'), [2, 10, 10], specs, { seed: 4 });
    n32.setParams(n64.params);
    const b = randomBatch(new Rng(3), [2, 10, 10], 4, 3);
    const g64 = new Float64Array(n64.paramCount);
    const g32 = new Float32Array(n32.paramCount);
    const l64 = n64.gradient(b, g64);
    const l32 = n32.gradient({ ...b, x: Float32Array.from(b.x) }, g32);
    // float32 rounds each of a few hundred accumulated products at ε32 ≈ 6e-8: 1e-5 relative is generous but far below any bug.
    expect(Math.abs(l32 - l64) / l64).toBeLessThan(1e-5);
    expect(relError(g32, g64)).toBeLessThan(1e-5);
  });
});
