/**
 * The layers' per-sample extension (Layer.perSample) on its own, float64, ranks 1-3: after a
 * forward and a backward pass over a batch, each sample's gradient must equal the gradient the
 * same layer computes from that sample alone (forward and backward of a batch of one), and the
 * reductions (norms, second moment, sums) must equal the ones computed directly from those.
 * Both sides are exact up to rounding of short sums (1e-13).
 */
import { describe, expect, it } from 'vitest';
import { activation, batchNorm, buildLayer, conv, dense, residual, type LayerSpec } from '../../src/layers/index.js';
import type { Layer } from '../../src/layers/layer.js';
import { cpuBackend } from '../../src/nd/backends/cpu/index.js';
import { Rng } from '../../src/nd/rng.js';
import { sizeOf } from '../../src/nd/shape.js';
import { randn, relError } from '../helpers.js';

const B = cpuBackend('float64');
const N = 4;
const EVAL = { training: false, updateStats: false, keys: null };

const CASES: [string, number[], LayerSpec][] = [
  ['dense (tanh)', [5], dense({ units: 3, activation: 'tanh' })],
  ['conv rank 1 (stride 2, padding 1)', [2, 9], conv({ channels: 3, kernel: 3, stride: 2, padding: 1 })],
  ['conv rank 2 (dilation 2, sigmoid, no bias)', [2, 7, 6], conv({ channels: 2, kernel: 2, dilation: 2, activation: 'sigmoid', bias: false })],
  ['conv rank 3', [1, 4, 3, 4], conv({ channels: 2, kernel: 2 })],
  ['batch norm rank 2 (evaluation mode)', [3, 4, 3], batchNorm()],
  ['residual (conv + projection)', [2, 6], residual([conv({ channels: 3, kernel: 3, padding: 1, activation: 'relu' })], { projection: true })],
];

/** Forward (evaluation mode: batch norm per sample) and backward of `x` [n, ...]; the gradient per parameter tensor. */
function pass(layer: Layer, params: Float64Array[], x: Float64Array, dy: Float64Array, n: number): Float64Array[] {
  const p = params.map((v, i) => B.wrap(layer.paramShapes[i], v));
  layer.forward(B.wrap([n, ...layer.inShape], x), p, EVAL);
  const grads = layer.paramShapes.map((s) => new Float64Array(sizeOf(s)));
  layer.backward(B.wrap([n, ...layer.outShape], dy), grads.map((g, i) => B.wrap(layer.paramShapes[i], g)));
  return grads;
}

describe.each(CASES)('%s', (_, inShape, spec) => {
  it('each sample\'s gradient is the layer\'s gradient of that sample alone; norms, squares and sums agree', () => {
    const layer = buildLayer(B, 0, inShape, spec);
    const rng = new Rng(3);
    const params = layer.paramShapes.map((s) => randn(rng, sizeOf(s), 0.7));
    for (const b of layer.buffers ?? []) if (b.name.endsWith('running_var')) b.data.fill(1.5);
    const [inSize, outSize] = [sizeOf(inShape), sizeOf(layer.outShape)];
    const x = randn(rng, N * inSize);
    const dy = randn(rng, N * outSize);
    const alone = Array.from({ length: N }, (_, n) => pass(layer, params, x.subarray(n * inSize, (n + 1) * inSize), dy.subarray(n * outSize, (n + 1) * outSize), 1));
    pass(layer, params, x, dy, N);
    const shapes = layer.paramShapes;
    const grads = shapes.map((s) => B.zeros([N, ...s]));
    const norms = shapes.map(() => new Float64Array(N));
    const squares = shapes.map((s) => B.zeros(s));
    const sums = shapes.map((s) => B.zeros(s));
    layer.perSample!({ grads, norms, squares, sums });
    shapes.forEach((s, j) => {
      const size = sizeOf(s);
      const g = B.download(grads[j]);
      for (let n = 0; n < N; n++) expect(relError(g.subarray(n * size, (n + 1) * size), alone[n][j])).toBeLessThan(1e-13);
      expect(relError(norms[j], alone.map((a) => a[j].reduce((t, v) => t + v * v, 0)))).toBeLessThan(1e-13);
      expect(relError(B.download(squares[j]), alone[0][j].map((_v, i) => alone.reduce((t, a) => t + a[j][i] ** 2, 0)))).toBeLessThan(1e-13);
      expect(relError(B.download(sums[j]), alone[0][j].map((_v, i) => alone.reduce((t, a) => t + a[j][i], 0)))).toBeLessThan(1e-13);
    });
    // The reductions alone (no materialised gradients: chunked, or dense's outer-product identities) agree.
    const [norms2, squares2] = [shapes.map(() => new Float64Array(N)), shapes.map((s) => B.zeros(s))];
    layer.perSample!({ grads: null, norms: norms2, squares: squares2, sums: null });
    shapes.forEach((_s, j) => {
      expect(relError(norms2[j], norms[j])).toBeLessThan(1e-13);
      expect(relError(B.download(squares2[j]), B.download(squares[j]))).toBeLessThan(1e-13);
    });
  });
});

it('batch norm refuses per-sample quantities after a training-mode forward', () => {
  const layer = buildLayer(B, 0, [2, 3], batchNorm());
  const p = [B.wrap([2], new Float64Array([1, 1])), B.wrap([2], new Float64Array(2))];
  layer.forward(B.wrap([3, 2, 3], randn(new Rng(1), 18)), p);
  layer.backward(B.wrap([3, 2, 3], randn(new Rng(2), 18)), null);
  expect(() => layer.perSample!({ grads: null, norms: [new Float64Array(3), new Float64Array(3)], squares: null, sums: null })).toThrow(
    /batchNorm#0: per-sample quantities are undefined under batch norm in training mode/,
  );
});

describe('the exact Hessian diagonal\'s layer hooks', () => {
  it('an activation\'s residual is σ\'\'(z) ⊙ dE/dy of its latest backward pass (null where σ is piecewise linear)', () => {
    const rng = new Rng(5);
    const z = randn(rng, 6);
    const dy = randn(rng, 6);
    const tanh = buildLayer(B, 0, [3], activation('tanh'));
    tanh.forward(B.wrap([2, 3], z), []);
    tanh.backward(B.wrap([2, 3], dy), null);
    const want = Array.from(z, (v, i) => -2 * Math.tanh(v) * (1 - Math.tanh(v) ** 2) * dy[i]);
    expect(relError(B.download(tanh.curvatureResidual!()!), want)).toBeLessThan(1e-14);
    const relu = buildLayer(B, 0, [3], activation('relu'));
    relu.forward(B.wrap([2, 3], z), []);
    relu.backward(B.wrap([2, 3], dy), null);
    expect(relu.curvatureResidual!()).toBeNull();
  });

  it('backwardFromActivation starts the backward pass below a fused activation: dE/dx = opᵀ_x(dz), and δ = dz for perSample', () => {
    const rng = new Rng(6);
    const layer = buildLayer(B, 0, [4], dense({ units: 3, activation: 'sigmoid' }));
    const params = layer.paramShapes.map((s) => randn(rng, sizeOf(s)));
    const p = params.map((v, i) => B.wrap(layer.paramShapes[i], v));
    const x = randn(rng, 2 * 4);
    layer.forward(B.wrap([2, 4], x), p);
    const dz = randn(rng, 6);
    const dx = B.download(layer.backwardFromActivation!(B.wrap([2, 3], dz), true)!);
    const W = params[0];
    expect(relError(dx, Array.from({ length: 8 }, (_, i) => [0, 1, 2].reduce((s, o) => s + dz[Math.floor(i / 4) * 3 + o] * W[o * 4 + (i % 4)], 0)))).toBeLessThan(1e-14);
    const sums = layer.paramShapes.map((s) => B.zeros(s));
    layer.perSample!({ grads: null, norms: null, squares: null, sums });
    expect(relError(B.download(sums[1]), [0, 1, 2].map((o) => dz[o] + dz[3 + o]))).toBeLessThan(1e-14);
  });
});
