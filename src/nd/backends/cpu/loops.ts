/**
 * The CPU backend's memory-bound loops (ReLU and its backward mask, bias add and gradient,
 * max-pooling and its routing) behind one interface, brought by the GEMM choice like the
 * lowering: JavaScript, or C in the OpenBLAS addon (native/src/pointwise.c). V8 runs these as
 * scalar loops, 1–4 ns per element, and turns max-pool's data-dependent choice into integer
 * arithmetic; the C versions vectorise or use conditional moves (bench/w4-breakdown.ts).
 */
import type { FloatArray } from '../../dtype.js';
import type { PoolGeometry } from '../../geometry.js';
import { activationKernels, derivativeTimes } from './elementwise.js';
import type { NativeLoops } from './gemm-native.js';
import { gather, maxPool, scatterAdd } from './pool.js';

export interface Loops {
  /** out = max(x, 0) as (x + |x|)/2: +0 for x ≤ 0, NaN stays NaN. */
  relu(out: FloatArray, x: FloatArray): void;
  /** out = m · [x > 0] */
  reluTimes(out: FloatArray, x: FloatArray, m: FloatArray): void;
  /** y[p, i] += b[p mod C] for planes of `inner` elements. */
  biasAdd(y: FloatArray, b: FloatArray, inner: number): void;
  /** db[p mod C] += Σ_i dy[p, i] */
  biasGrad(db: FloatArray, dy: FloatArray, inner: number): void;
  maxPool(y: FloatArray, argmax: FloatArray, x: FloatArray, g: PoolGeometry, planes: number): void;
  gather(y: FloatArray, x: FloatArray, argmax: FloatArray, inVol: number, outVol: number): void;
  scatterAdd(dx: FloatArray, dy: FloatArray, argmax: FloatArray, inVol: number, outVol: number): void;
}

export const jsLoops: Loops = {
  relu: (out, x) => activationKernels.relu[0](out, x, 0),
  reluTimes: (out, x, m) => derivativeTimes.relu!(out, x, m, 0),
  biasAdd(y, b, inner) {
    // One bias value per contiguous plane, no division per element.
    for (let p = 0, i = 0; i < y.length; p++) {
      const v = b[p % b.length];
      for (const end = i + inner; i < end; i++) y[i] += v;
    }
  },
  biasGrad(db, dy, inner) {
    for (let p = 0, i = 0; i < dy.length; p++) {
      let s = 0;
      for (const end = i + inner; i < end; i++) s += dy[i];
      db[p % db.length] += s;
    }
  },
  maxPool,
  gather,
  scatterAdd,
};

/** The pool geometry as the addon takes it: planes, in3, window3, stride3, out3. */
const packed = new WeakMap<PoolGeometry, Int32Array>();

export function nativeLoops(n: NativeLoops): Loops {
  return {
    relu: n.relu,
    reluTimes: n.reluTimes,
    biasAdd: n.biasAdd,
    biasGrad: n.biasGrad,
    maxPool(y, argmax, x, g, planes) {
      let p = packed.get(g);
      if (!p) packed.set(g, (p = Int32Array.from([0, ...g.in3, ...g.w3, ...g.s3, ...g.o3])));
      p[0] = planes;
      n.maxPool(y, argmax, x, p);
    },
    gather: n.gather,
    scatterAdd: n.scatterAdd,
  };
}
