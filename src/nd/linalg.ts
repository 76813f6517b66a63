/**
 * Dense linear algebra on the host that is not a tensor primitive, for K-FAC's factors (which
 * live on the host whatever the backend): LAPACK's symmetric eigensolver (dsyevd) and BLAS's
 * dgemm from the optional OpenBLAS addon (native/), or null where it is not there (no build, an
 * addon that predates them, a browser, or NDCNN_GEMM naming a non-native kernel: whoever asks for
 * the JS or wasm kernels gets JS here too). Loaded here rather than through a backend for that reason.
 */
import { createRequire } from 'node:module';

/** a (n×n symmetric, row-major) ← its eigenvectors as rows; w ← the eigenvalues, ascending. */
export type EighFn = (a: Float64Array, n: number, w: Float64Array) => void;

/** Row-major C = alpha·op(A)·op(B) + beta·C with offsets and leading dimensions (the backend's GemmFn, float64). */
export type HostGemm = (
  transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  A: Float64Array, aOff: number, lda: number, B: Float64Array, bOff: number, ldb: number,
  beta: number, C: Float64Array, cOff: number, ldc: number,
) => void;

const addon: { eigh?: EighFn; dgemm?: HostGemm } | null = (() => {
  const asked = typeof process === 'object' ? process.env.NDCNN_GEMM : undefined;
  if (asked !== undefined && asked !== '' && asked !== 'openblas') return null;
  try {
    return createRequire(import.meta.url)('ndcnn-blas') as { eigh?: EighFn; dgemm?: HostGemm };
  } catch {
    return null;
  }
})();

export const nativeEigh: EighFn | null = addon?.eigh ?? null;
export const nativeGemm: HostGemm | null = addon?.dgemm ?? null;
