/**
 * Eigen-decomposition of the small symmetric tridiagonal matrices Lanczos builds, by ml-matrix's
 * symmetric eigensolver (Householder tridiagonalisation + QL; on a tridiagonal input the first
 * stage is a no-op). m is at most a few hundred, so O(m³) is nothing beside the products.
 */
import { EigenvalueDecomposition, Matrix } from 'ml-matrix';

export interface TridiagonalEigen {
  /** Eigenvalues, largest first. */
  values: number[];
  /** vectors[i] is the unit eigenvector (length m) of values[i]. */
  vectors: Float64Array[];
}

/** T = tridiag(beta, alpha, beta): alpha has m entries, beta (the off-diagonal) m − 1. */
export function tridiagonalEigen(alpha: readonly number[], beta: readonly number[]): TridiagonalEigen {
  const m = alpha.length;
  const t = Matrix.zeros(m, m);
  for (let i = 0; i < m; i++) {
    t.set(i, i, alpha[i]);
    if (i + 1 < m) {
      t.set(i, i + 1, beta[i]);
      t.set(i + 1, i, beta[i]);
    }
  }
  return symmetricEigen(t.to2DArray());
}

/** Eigenpairs of a dense symmetric matrix given by rows, largest eigenvalue first. */
export function symmetricEigen(rows: number[][]): TridiagonalEigen {
  const e = new EigenvalueDecomposition(new Matrix(rows), { assumeSymmetric: true });
  const values = e.realEigenvalues;
  const vecs = e.eigenvectorMatrix;
  const order = values.map((_, i) => i).sort((a, b) => values[b] - values[a]);
  return {
    values: order.map((i) => values[i]),
    vectors: order.map((i) => Float64Array.from(vecs.getColumn(i))),
  };
}
