/** The seed's max-pooling: forward takes each block's maximum; backward routes each error to its argmax only. */
import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../../src/nd/backends/cpu/index.js';
import { MaxPool } from '../../src/layers/index.js';
import { Rng } from '../../src/nd/rng.js';
import { randn } from '../helpers.js';
import { forEachIndex, offsetOf } from '../reference.js';

const B = cpuBackend('float64');
const CASES = [
  { rank: 1, spatial: [9], window: [2], stride: undefined },
  { rank: 1, spatial: [10], window: [3], stride: [2] },
  { rank: 2, spatial: [6, 7], window: [2, 2], stride: undefined },
  { rank: 2, spatial: [7, 7], window: [3, 2], stride: [2, 1] },
  { rank: 3, spatial: [4, 5, 6], window: [2, 2, 2], stride: undefined },
  { rank: 3, spatial: [5, 4, 5], window: [2, 3, 2], stride: [1, 1, 2] },
];

function naiveMax(x: Float64Array, shape: number[], window: number[], stride: number[]) {
  const [N, C, ...S] = shape;
  const out = S.map((n, a) => Math.floor((n - window[a]) / stride[a]) + 1);
  const yShape = [N, C, ...out];
  const y: number[] = [];
  const at: number[] = [];
  forEachIndex(yShape, ([n, c, ...i]) => {
    let best = -Infinity;
    let where = -1;
    forEachIndex(window, (a) => {
      const o = offsetOf(shape, [n, c, ...i.map((v, ax) => v * stride[ax] + a[ax])]);
      if (x[o] > best) [best, where] = [x[o], o];
    });
    y.push(best);
    at.push(where);
  });
  return { y, at, yShape };
}

describe('max-pool forward: each k×k block reduced to its maximum (floor mode)', () => {
  it.each(CASES)('rank $rank, input $spatial, window $window, stride $stride', (c) => {
    const layer = new MaxPool(B, 'pool', [3, ...c.spatial], { kind: 'maxPool', window: c.window, stride: c.stride });
    const shape = [2, 3, ...c.spatial];
    const x = randn(new Rng(1), shape.reduce((a, b) => a * b));
    const ref = naiveMax(x, shape, c.window, c.stride ?? c.window);
    const y = layer.forward(B.upload(shape, x));
    expect(y.shape).toEqual(ref.yShape);
    expect(Array.from(B.download(y))).toEqual(ref.y);
  });
});

describe('max-pool backward: the error goes only to the argmax (sparse routing)', () => {
  it.each(CASES)('rank $rank, input $spatial, window $window, stride $stride', (c) => {
    const layer = new MaxPool(B, 'pool', [3, ...c.spatial], { kind: 'maxPool', window: c.window, stride: c.stride });
    const shape = [2, 3, ...c.spatial];
    const x = randn(new Rng(2), shape.reduce((a, b) => a * b));
    const ref = naiveMax(x, shape, c.window, c.stride ?? c.window);
    const y = layer.forward(B.upload(shape, x));
    // Errors 1, 2, 3, ... so each routed value identifies its window.
    const dy = B.upload(y.shape, ref.y.map((_, i) => i + 1));
    const dx = B.download(layer.backward(dy));
    const expected = new Float64Array(dx.length);
    ref.at.forEach((o, i) => (expected[o] += i + 1));
    expect(Array.from(dx)).toEqual(Array.from(expected));
    const nonZeros = dx.filter((v) => v !== 0).length;
    if (!c.stride) expect(nonZeros).toBe(ref.y.length); // disjoint windows: exactly one non-zero per window
    else expect(nonZeros).toBeLessThanOrEqual(ref.y.length); // overlapping windows may share a winner
    expect(nonZeros).toBe(new Set(ref.at).size);
  });

  it('ties go to the first element of the window, and only to it', () => {
    const layer = new MaxPool(B, 'pool', [1, 4], { kind: 'maxPool', window: [4] });
    layer.forward(B.upload([1, 1, 4], [0, 5, 5, 1]));
    expect(Array.from(B.download(layer.backward(B.upload([1, 1, 1], [1]))))).toEqual([0, 1, 0, 0]);
  });

  it('ties in a 2-D 2×2 window (the unrolled CPU loop) go to the first element in row-major order', () => {
    const layer = new MaxPool(B, 'pool', [1, 2, 6], { kind: 'maxPool', window: [2, 2] });
    // Windows: [[3, 3], [3, 3]] → 0; [[1, 7], [7, 7]] → 1; [[2, 1], [9, 9]] → 2 (offsets in the window).
    const y = layer.forward(B.upload([1, 1, 2, 6], [3, 3, 1, 7, 2, 1, 3, 3, 7, 7, 9, 9]));
    expect(Array.from(B.download(y))).toEqual([3, 7, 9]);
    const dx = B.download(layer.backward(B.upload([1, 1, 1, 3], [1, 2, 3])));
    expect(Array.from(dx)).toEqual([1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 3, 0]);
  });
});
