/**
 * Average pooling and global average pooling: the forward sum against a direct nested loop over
 * index tuples, the backward as its adjoint (dot-product test), finite differences of the
 * gradient and Hv (float64, ranks 1–3), Gv = Jᵀ H_L J.
 */
import { describe, expect, it } from 'vitest';
import { AvgPool, avgPool, conv, dense, flatten, globalAvgPool, type LayerSpec } from '../../src/layers/index.js';
import { buildLayer } from '../../src/layers/index.js';
import { Rng } from '../../src/nd/rng.js';
import { sizeOf } from '../../src/nd/shape.js';
import { dot } from '../../src/nd/vec.js';
import { randn, relError } from '../helpers.js';
import { forEachIndex, offsetOf } from '../reference.js';
import { B64, checkGaussNewton, checkLayer, checkNetwork } from './checks.js';

const CASES = [
  { spatial: [9], window: [3], stride: [2], padding: [1] },
  { spatial: [10], window: [2], stride: undefined, padding: undefined },
  { spatial: [6, 7], window: [2, 3], stride: [1, 2], padding: [1, 1] },
  { spatial: [7, 7], window: [3, 3], stride: [2, 2], padding: [0, 1] },
  { spatial: [4, 5, 6], window: [2, 2, 2], stride: undefined, padding: undefined },
  { spatial: [5, 4, 5], window: [3, 2, 3], stride: [2, 1, 2], padding: [1, 0, 1] },
];

/** y[n,c,i] = Σ_a x[n, c, i·s + a − p] / |W| over the window positions a, zero outside the input. */
function naiveAvg(x: Float64Array, shape: number[], window: number[], stride: number[], padding: number[], countPad: boolean) {
  const [N, C, ...S] = shape;
  const out = S.map((n, a) => Math.floor((n + 2 * padding[a] - window[a]) / stride[a]) + 1);
  const yShape = [N, C, ...out];
  const y: number[] = [];
  forEachIndex(yShape, ([n, c, ...i]) => {
    let s = 0;
    let inside = 0;
    forEachIndex(window, (a) => {
      const src = i.map((v, ax) => v * stride[ax] + a[ax] - padding[ax]);
      if (src.some((v, ax) => v < 0 || v >= S[ax])) return;
      s += x[offsetOf(shape, [n, c, ...src])];
      inside++;
    });
    y.push(s / (countPad ? sizeOf(window) : inside));
  });
  return { y, yShape };
}

describe('average pooling forward: y_o = Σ_{j∈W_o} x_j / |W_o| against a direct nested loop', () => {
  for (const countPad of [true, false]) {
    it.each(CASES)(`countIncludePad ${countPad}: input $spatial, window $window, stride $stride, padding $padding`, (c) => {
      const spec = { window: c.window, stride: c.stride, padding: c.padding, countIncludePad: countPad };
      const layer = new AvgPool(B64, 'pool', [3, ...c.spatial], spec);
      const shape = [2, 3, ...c.spatial];
      const x = randn(new Rng(1), sizeOf(shape));
      const ref = naiveAvg(x, shape, c.window, c.stride ?? c.window, c.padding ?? c.window.map(() => 0), countPad);
      const y = layer.forward(B64.upload(shape, x));
      expect(y.shape).toEqual(ref.yShape);
      // The same few terms summed in the same order, then one division: equal to the last bit or two.
      expect(relError(B64.download(y), ref.y)).toBeLessThan(1e-15);
    });
  }

  it('counts the padding as zeros, or not (countIncludePad), on a 1-D example worked by hand', () => {
    const x = B64.upload([1, 1, 3], [3, 6, 9]);
    const incl = new AvgPool(B64, 'pool', [1, 3], { window: 2, padding: 1 });
    const excl = new AvgPool(B64, 'pool', [1, 3], { window: 2, padding: 1, countIncludePad: false });
    // Windows [0, 3], [6, 9]: (0 + 3)/2, (6 + 9)/2 with the pad counted; 3/1, 15/2 without.
    expect(Array.from(B64.download(incl.forward(x)))).toEqual([1.5, 7.5]);
    expect(Array.from(B64.download(excl.forward(x)))).toEqual([3, 7.5]);
  });
});

describe('average pooling backward: dE/dx = Aᵀ dE/dy, the adjoint ⟨A x, dy⟩ = ⟨x, Aᵀ dy⟩', () => {
  for (const countPad of [true, false]) {
    it.each(CASES)(`countIncludePad ${countPad}: input $spatial, window $window`, (c) => {
      const layer = new AvgPool(B64, 'pool', [2, ...c.spatial], { ...c, countIncludePad: countPad });
      const rng = new Rng(3);
      const shape = [2, 2, ...c.spatial];
      const x = randn(rng, sizeOf(shape));
      const y = B64.download(layer.forward(B64.upload(shape, x)));
      const dy = randn(rng, y.length);
      const dx = B64.download(layer.backward(B64.upload([2, ...layer.outShape], dy)));
      // Two sums of the same products in different orders: ~1e-16 relative each.
      expect(Math.abs(dot(y, dy) - dot(x, dx)) / Math.sqrt(dot(y, y) * dot(dy, dy))).toBeLessThan(1e-13);
    });
  }
});

describe('global average pooling', () => {
  it.each([[[3, 7]], [[2, 4, 5]], [[2, 3, 4, 3]]])('input %j: the mean over the spatial axes, output [C]', (inShape) => {
    const layer = buildLayer(B64, 0, inShape, globalAvgPool());
    expect(layer.outShape).toEqual([inShape[0]]);
    const shape = [2, ...inShape];
    const x = randn(new Rng(2), sizeOf(shape));
    const plane = sizeOf(inShape.slice(1));
    const y = B64.download(layer.forward(B64.upload(shape, x), []));
    const mean = Array.from({ length: 2 * inShape[0] }, (_, p) => x.subarray(p * plane, (p + 1) * plane).reduce((a, b) => a + b) / plane);
    expect(relError(y, mean)).toBeLessThan(1e-15);
  });
  it('rejects a bad divisor option and too much padding, naming the layer', () => {
    expect(() => buildLayer(B64, 1, [2, 6], avgPool({ window: 2, countIncludePad: 'no' as never }))).toThrow(/avgPool#1: countIncludePad must be true or false, got "no"/);
    expect(() => buildLayer(B64, 1, [2, 6], avgPool({ window: 2, padding: 2 }))).toThrow(/avgPool#1: padding \[2\] exceeds half the window \[2\]/);
  });
  it('rejects a flat input', () => {
    expect(() => buildLayer(B64, 0, [5], globalAvgPool())).toThrow(/globalAvgPool#0: input \[5\] must be \[C, \.\.\.spatial\]/);
  });
});

describe('finite differences and curvature, ranks 1–3', () => {
  const spatial: Record<number, number[]> = { 1: [9], 2: [6, 5], 3: [4, 5, 4] };
  for (const rank of [1, 2, 3]) {
    it(`rank ${rank}: avg-pool (both divisors) and global pool, w.r.t. inputs`, () => {
      checkLayer(avgPool({ window: 3, stride: 2, padding: 1 }), [2, ...spatial[rank]]);
      checkLayer(avgPool({ window: 3, stride: 2, padding: 1, countIncludePad: false }), [2, ...spatial[rank]]);
      checkLayer(globalAvgPool(), [2, ...spatial[rank]]);
    });
    const net: LayerSpec[] = [
      conv({ channels: 3, kernel: 2, activation: 'tanh' }),
      avgPool({ window: 2, stride: 1, padding: 1, countIncludePad: false }),
      conv({ channels: 2, kernel: 2, activation: 'softplus' }),
      globalAvgPool(),
      dense({ units: 3 }),
    ];
    it(`rank ${rank}: conv → avg-pool → conv → global pool → dense: gradient and Hv`, () => checkNetwork([1, ...spatial[rank]], net, 'softmax-cross-entropy', rank));
  }
  it('Gv = Jᵀ H_L J through average pooling', () => {
    checkGaussNewton([1, 5, 4], [conv({ channels: 2, kernel: 2, activation: 'tanh' }), avgPool({ window: 2, padding: 1 }), flatten(), dense({ units: 3 })]);
  });
});
