/** Test tools: an operator assembled into a dense matrix column by column, and its exact spectrum. */
import type { SymmetricOperator } from '../../src/analysis/index.js';
import { symmetricEigen } from '../../src/analysis/index.js';

/** A[:, j] = A e_j: the explicit matrix of an operator (dim products). */
export function assemble(op: SymmetricOperator): number[][] {
  const n = op.dim;
  const cols: Float64Array[] = [];
  const e = new Float64Array(n);
  for (let j = 0; j < n; j++) {
    e.fill(0);
    e[j] = 1;
    const c = new Float64Array(n);
    op.apply(e, c);
    cols.push(c);
  }
  return Array.from({ length: n }, (_, i) => cols.map((c) => c[i]));
}

/** Largest asymmetry |A_ij − A_ji| relative to max |A_ij|. */
export function asymmetry(a: number[][]): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    for (let j = 0; j < a.length; j++) {
      d = Math.max(d, Math.abs(a[i][j] - a[j][i]));
      m = Math.max(m, Math.abs(a[i][j]));
    }
  }
  return d / m;
}

/** The symmetric part (A + Aᵀ)/2, diagonalised: eigenvalues largest first. */
export function exactEigen(a: number[][]) {
  const s = a.map((row, i) => row.map((v, j) => 0.5 * (v + a[j][i])));
  return symmetricEigen(s);
}

export function subBlock(a: number[][], offset: number, size: number): number[][] {
  return a.slice(offset, offset + size).map((row) => row.slice(offset, offset + size));
}

/** An operator from an explicit matrix. */
export function matrixOperator(a: number[][]): SymmetricOperator {
  return {
    dim: a.length,
    apply(v, out) {
      for (let i = 0; i < a.length; i++) {
        let s = 0;
        for (let j = 0; j < a.length; j++) s += a[i][j] * v[j];
        out[i] = s;
      }
    },
  };
}

/**
 * Wasserstein-1 distance between two discrete distributions on the line, ∫ |F₁ − F₂| dx over
 * the merged support (the CDFs are step functions).
 */
export function wasserstein1(a: { x: number; w: number }[], b: { x: number; w: number }[]): number {
  const pts = [...a.map((p) => ({ ...p, s: 1 })), ...b.map((p) => ({ ...p, s: -1 }))].sort((p, q) => p.x - q.x);
  let diff = 0;
  let total = 0;
  for (let i = 0; i < pts.length - 1; i++) {
    diff += pts[i].s * pts[i].w;
    total += Math.abs(diff) * (pts[i + 1].x - pts[i].x);
  }
  return total;
}
