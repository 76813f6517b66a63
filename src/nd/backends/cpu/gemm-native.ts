/**
 * OpenBLAS through the optional addon `ndcnn-blas` (native/): cblas_sgemm and cblas_dgemm,
 * row-major, on the caller's typed arrays without a copy. The addon checks every index the call
 * can touch and throws a RangeError naming the operand otherwise.
 */
import { createRequire } from 'node:module';
import type { GemmFn } from './gemm';

interface BlasAddon {
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
