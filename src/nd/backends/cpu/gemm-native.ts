/**
 * OpenBLAS through the optional addon `ndcnn-blas` (native/): cblas_sgemm and cblas_dgemm,
 * row-major, on the caller's typed arrays without a copy; im2col/col2im and the backend's
 * memory-bound loops in C. The addon checks every index the call
 * can touch and throws a RangeError naming the operand otherwise.
 */
import { createRequire } from 'node:module';
import type { FloatArray } from '../../dtype.js';
import type { GemmFn } from './gemm.js';

/**
 * The convolution lowering's copies in C (native/src/lowering.c): columns [o0, o1) of the
 * im2col matrix of x at xOff, and the adjoint that adds them back. `geometry` packs
 * cin, in[3], kernel[3], stride[3], pad[3], dilation[3], out[3] as an Int32Array(19).
 */
export type LowerFn = (col: FloatArray, x: FloatArray, xOff: number, geometry: Int32Array, o0: number, o1: number) => void;
export interface NativeLowering {
  im2col: LowerFn;
  col2im: LowerFn;
}

/** The memory-bound loops in C (native/src/pointwise.c); see loops.ts for their meaning. */
export interface NativeLoops {
  relu(out: FloatArray, x: FloatArray): void;
  reluTimes(out: FloatArray, x: FloatArray, m: FloatArray): void;
  biasAdd(y: FloatArray, b: FloatArray, inner: number): void;
  biasGrad(db: FloatArray, dy: FloatArray, inner: number): void;
  /** geometry: planes, in[3], window[3], stride[3], out[3] as an Int32Array(13). */
  maxPool(y: FloatArray, argmax: FloatArray, x: FloatArray, geometry: Int32Array): void;
  gather(y: FloatArray, x: FloatArray, argmax: FloatArray, inVol: number, outVol: number): void;
  scatterAdd(dx: FloatArray, dy: FloatArray, argmax: FloatArray, inVol: number, outVol: number): void;
}

/**
 * The upper triangle of C (N×N, row-major at cOff, ldc) = alpha·op(A)·op(A)ᵀ + beta·C, op(A)
 * (N×K) = A at aOff with lda, or Aᵀ of A stored K×N when `trans`.
 */
export type SyrkFn = (trans: boolean, N: number, K: number, alpha: number, A: FloatArray, aOff: number, lda: number, beta: number, C: FloatArray, cOff: number, ldc: number) => void;

interface BlasAddon extends NativeLowering, NativeLoops {
  /** cblas_ssyrk/dsyrk by the arrays' type; absent in addons built before it was added. */
  syrk?: SyrkFn;
  sgemm: GemmFn;
  dgemm: GemmFn;
  /** Sets OpenBLAS's thread count when given; returns the count in force. */
  threads(n?: number): number;
  /** OpenBLAS's build string and the kernel it chose for this CPU. */
  config(): string;
}

export interface NativeGemm {
  gemm: GemmFn;
  addon: BlasAddon;
}

/**
 * Loads the addon; throws node's own message when it is missing or failed to build.
 * OpenBLAS runs one thread unless OPENBLAS_NUM_THREADS says otherwise: the per-sample GEMMs of
 * a convolution are small (LeNet's are 8×576×25), and OpenBLAS's busy-waiting workers slow
 * everything down on a machine whose cores are shared (a 2-core W2 GEMM measured 25× slower
 * with 2 threads under load than with 1).
 */
export function loadNativeGemm(): NativeGemm {
  const addon = createRequire(import.meta.url)('ndcnn-blas') as BlasAddon;
  if (!process.env.OPENBLAS_NUM_THREADS) addon.threads(1);
  const gemm: GemmFn = (ta, tb, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc) => {
    const f = A instanceof Float64Array ? addon.dgemm : addon.sgemm;
    f(ta, tb, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc);
  };
  return { gemm, addon };
}
