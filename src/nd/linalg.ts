/**
 * Dense linear algebra on the host that is not a tensor primitive: LAPACK's symmetric
 * eigensolver (dsyevd) from the optional OpenBLAS addon (native/), for K-FAC's factors. Loaded
 * here rather than through a backend because the factors live on the host whatever the backend.
 */
import { createRequire } from 'node:module';

/** a (n×n symmetric, row-major) ← its eigenvectors as rows; w ← the eigenvalues, ascending. */
export type EighFn = (a: Float64Array, n: number, w: Float64Array) => void;

/** LAPACK's dsyevd, or null where the addon did not build (or predates it) or there is no Node. */
export const nativeEigh: EighFn | null = (() => {
  try {
    return (createRequire(import.meta.url)('ndcnn-blas') as { eigh?: EighFn }).eigh ?? null;
  } catch {
    return null;
  }
})();
