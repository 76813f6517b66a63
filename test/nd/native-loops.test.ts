/**
 * The memory-bound loops in C (native/src/pointwise.c) against their JavaScript versions
 * (src/nd/backends/cpu/loops.ts): the same results, bit for bit, in both dtypes (the bias
 * gradient's sum is re-associated: float64-tight), the edge cases that a vectorised loop could
 * change (ReLU of NaN and −0, m·0 for negative and infinite m, ties in max-pooling), and
 * refusals that touch nothing. Skipped with a warning where the OpenBLAS addon does not load.
 */
import { describe, expect, it } from 'vitest';
import { loadNativeGemm } from '../../src/nd/backends/cpu/gemm-native.js';
import { chooseGemm } from '../../src/nd/backends/cpu/gemm-select.js';
import { jsLoops, nativeLoops, type Loops } from '../../src/nd/backends/cpu/loops.js';
import { PoolGeometry, type PoolOptions } from '../../src/nd/geometry.js';
import { Rng } from '../../src/nd/rng.js';
import type { Shape } from '../../src/nd/shape.js';

let C: Loops | undefined;
try {
  C = nativeLoops(loadNativeGemm().addon);
} catch (e) {
  console.warn(`native loops skipped: the OpenBLAS addon does not load here (${(e as Error).message.split('\n')[0]})`);
}

type Make = (n: number) => Float32Array | Float64Array;
const TYPES: [string, Make][] = [['float32', (n) => new Float32Array(n)], ['float64', (n) => new Float64Array(n)]];
const bits = (a: ArrayLike<number>) => Array.from(a, (v) => (Object.is(v, -0) ? '-0' : String(v)));

/** Random normals with the values a vectorised loop could get wrong mixed in. */
function data(make: Make, n: number, seed: number): Float32Array | Float64Array {
  const rng = new Rng(seed);
  const special = [NaN, -0, 0, Infinity, -Infinity, -1.5];
  return make(n).map((_, i) => (i % 7 === 3 ? special[(i / 7) % special.length | 0] : rng.normal()));
}

const POOLS: [Shape, PoolOptions][] = [
  [[3, 9], { window: 2 }],
  [[2, 6, 7], { window: 2 }],
  [[2, 5, 5], { window: 2, stride: 1 }],
  [[2, 6, 7], { window: [2, 3], stride: [2, 2] }],
  [[2, 5, 4, 5], { window: [3, 2, 2], stride: [1, 2, 1] }],
];

describe.skipIf(!C)('native loops (ndcnn-blas) compute what the JS loops compute', () => {
  for (const [dtype, make] of TYPES) {
    it(`relu and its backward mask, with NaN, ±0, ±∞: ${dtype}`, () => {
      const [x, m] = [data(make, 1001, 1), data(make, 1001, 2)];
      const [a, b] = [make(x.length), make(x.length)];
      jsLoops.relu(a, x);
      C!.relu(b, x);
      expect(bits(b)).toEqual(bits(a));
      jsLoops.reluTimes(a, x, m);
      C!.reluTimes(b, x, m);
      expect(bits(b)).toEqual(bits(a));
      // In place (the backend allows out to be an input): the same results.
      const [xa, xc, mc] = [x.slice(), x.slice(), m.slice()];
      jsLoops.relu(xa, xa);
      C!.relu(xc, xc);
      expect(bits(xc)).toEqual(bits(xa));
      C!.reluTimes(mc, x, mc);
      expect(bits(mc)).toEqual(bits(a));
    });

    it(`bias add (exact) and bias gradient (float64-tight): ${dtype}`, () => {
      const rng = new Rng(3);
      const [planes, inner, ch] = [12, 37, 4];
      const y = make(planes * inner).map(() => rng.normal());
      const b = make(ch).map(() => rng.normal());
      const [a, c] = [y.slice(), y.slice()];
      jsLoops.biasAdd(a, b, inner);
      C!.biasAdd(c, b, inner);
      expect(bits(c)).toEqual(bits(a));
      const [ga, gc] = [b.slice(), b.slice()];
      jsLoops.biasGrad(ga, y, inner);
      C!.biasGrad(gc, y, inner);
      // Both sum each plane in double and add it to db[c] with one rounding; only the order of
      // the sum differs (~1e-15 relative), which can flip each of a channel's 3 roundings into
      // db by one unit: float32 ulps (2^-23 relative), float64 ones far below 1e-13.
      const tol = dtype === 'float64' ? 1e-13 : 3 * 2 ** -22;
      gc.forEach((v, i) => expect(Math.abs(v - ga[i])).toBeLessThanOrEqual(tol * (Math.abs(ga[i]) + 1)));
    });

    for (const [inShape, o] of POOLS) {
      it(`maxPool, gather, scatterAdd on ${JSON.stringify(inShape)} ${JSON.stringify(o)}: ${dtype}`, () => {
        const g = new PoolGeometry('t', inShape, o);
        const planes = 2 * g.channels;
        const rng = new Rng(4);
        // Small integers: many ties, which must go to the first element in row-major order.
        const x = make(planes * g.inVolume).map(() => rng.int(4));
        const out = () => [make(planes * g.outVolume), make(planes * g.outVolume)] as const;
        const [ya, aa] = out();
        const [yc, ac] = out();
        jsLoops.maxPool(ya, aa, x, g, planes);
        C!.maxPool(yc, ac, x, g, planes);
        expect(Array.from(ac)).toEqual(Array.from(aa));
        expect(Array.from(yc)).toEqual(Array.from(ya));
        const r = make(x.length).map(() => rng.normal());
        jsLoops.gather(ya, r, aa, g.inVolume, g.outVolume);
        C!.gather(yc, r, aa, g.inVolume, g.outVolume);
        expect(Array.from(yc)).toEqual(Array.from(ya));
        const [da, dc] = [r.slice(), r.slice()];
        jsLoops.scatterAdd(da, ya, aa, g.inVolume, g.outVolume);
        C!.scatterAdd(dc, ya, aa, g.inVolume, g.outVolume);
        expect(Array.from(dc)).toEqual(Array.from(da));
      });
    }
  }

  it('refuses mismatched sizes and argmax entries outside the plane, writing nothing', () => {
    const f = new Float32Array(8);
    expect(() => C!.relu(f, new Float32Array(7))).toThrow(/relu: out and x differ in length/);
    expect(() => C!.relu(f, new Float64Array(8))).toThrow(/one float type/);
    expect(() => C!.biasAdd(f, new Float32Array(3), 2)).toThrow(/biasAdd: 8 elements are not whole planes of 2 for 3 channels/);
    const g = new PoolGeometry('t', [1, 4], { window: 2 });
    expect(() => C!.maxPool(new Float32Array(2), new Float32Array(2), new Float32Array(5), g, 1)).toThrow(/maxPool: .* does not match/);
    const dx = new Float32Array(8);
    for (const bad of [4, -1, 0.5, NaN]) {
      expect(() => C!.scatterAdd(dx, new Float32Array([1, 1, 1, 1]), new Float32Array([0, 1, bad, 2]), 4, 2)).toThrow(
        /scatterAdd: an argmax entry is not an offset in \[0, 4\)/,
      );
      expect(() => C!.gather(new Float32Array(4), dx, new Float32Array([0, bad, 1, 2]), 4, 2)).toThrow(/gather: an argmax entry/);
    }
    expect(Array.from(dx)).toEqual(new Array(8).fill(0));
  });

  it('the openblas choice brings the C loops, js and wasm the JS ones', () => {
    expect(chooseGemm('js').loops).toBe(jsLoops);
    expect(chooseGemm('wasm').loops).toBe(jsLoops);
    expect(chooseGemm('openblas').loops.relu).not.toBe(jsLoops.relu);
  });
});
