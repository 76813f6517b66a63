/**
 * Eigen-decomposition of a dense symmetric matrix A = Qᵀ diag(λ) Q on flat row-major
 * Float64Arrays, for the Kronecker factors of K-FAC (a few hundred rows, decomposed every few
 * optimizer steps). Two classical stages:
 *  1. Householder tridiagonalisation: for k = 0 … n−3, the reflector H_k = I − 2vvᵀ (v a unit
 *     vector supported on rows k+1…n−1) zeroes column k below the subdiagonal;
 *     A ← H A H = A − 2(v wᵀ + w vᵀ) with p = A v, w = p − (vᵀp) v.
 *  2. Implicit QL with Wilkinson-type shifts on the tridiagonal (d, e), each sweep a chain of
 *     Givens rotations chasing the bulge up from the bottom of the unreduced block.
 * Every transformation is accumulated into the rows of Q (Q starts as the reflectors' product,
 * transposed), so a rotation touches two contiguous rows: the hot loop reads unit-stride memory.
 * ml-matrix's EigenvalueDecomposition does the same work through Matrix.get/set on arrays of
 * rows, about 3× slower than this (bench/kfac.ts). Both are O(n³) in scalar JS: where the
 * OpenBLAS addon loaded, LAPACK's dsyevd (divide and conquer, blocked) runs instead, 20–40× faster
 * at n = 200–800; this code is the path of the wasm and JS backends and the browser.
 */
import { nativeEigh as lapack } from '../nd/linalg.js';

/** 'auto': LAPACK when the addon has it, else this file's JS; 'js': always the JS. */
export type EigenImpl = 'auto' | 'js';


/** Which solver eigenSymmetric(…, 'auto') runs. */
export const eigenSolver: 'lapack' | 'js' = lapack ? 'lapack' : 'js';

export interface SymmetricEigen {
  /** Eigenvalues, ascending. */
  readonly values: Float64Array;
  /** Row i (n entries at i·n) is the unit eigenvector of values[i]. */
  readonly vectors: Float64Array;
}

/** Sweeps of QL per eigenvalue before giving up (it needs about 2; 60 would mean a NaN crept in). */
const MAX_SWEEPS = 60;

/** The eigenpairs of the n×n symmetric matrix `a` (row-major; only its values are read, never changed). */
export function eigenSymmetric(a: ArrayLike<number>, n: number, impl: EigenImpl = 'auto'): SymmetricEigen {
  if (!Number.isInteger(n) || n < 1 || a.length !== n * n) throw new Error(`eigenSymmetric: ${a.length} values are not an ${n}×${n} matrix`);
  for (let i = 0; i < n * n; i++) {
    if (!Number.isFinite(a[i])) throw new Error(`eigenSymmetric: entry (${Math.floor(i / n)}, ${i % n}) is ${a[i]}`);
  }
  const m = Float64Array.from(a);
  const d = new Float64Array(n);
  if (lapack && impl === 'auto') {
    lapack(m, n, d);
    return { values: d, vectors: m };
  }
  const e = new Float64Array(n);
  const q = tridiagonalise(m, n, d, e);
  ql(d, e, q, n);
  sortAscending(d, q, n);
  return { values: d, vectors: q };
}

/**
 * Reduces m (destroyed) to tridiagonal form: diagonal d, subdiagonal e[0 … n−2]. Returns Q with
 * rows such that Q m_original Qᵀ = tridiag(e, d, e).
 */
function tridiagonalise(m: Float64Array, n: number, d: Float64Array, e: Float64Array): Float64Array {
  const vs: Float64Array[] = [];
  const p = new Float64Array(n);
  for (let k = 0; k + 2 < n; k++) {
    // x = m[k+1 …, k]; v ∝ x − α e₁ with α = −sign(x₀)‖x‖ (no cancellation in x₀ − α).
    let s = 0;
    for (let i = k + 1; i < n; i++) s += m[i * n + k] * m[i * n + k];
    const x0 = m[(k + 1) * n + k];
    const norm = Math.sqrt(s);
    const alpha = x0 > 0 ? -norm : norm;
    const v = new Float64Array(n);
    const vv = s - x0 * x0 + (x0 - alpha) * (x0 - alpha);
    if (norm === 0 || vv === 0) {
      vs.push(v);
      e[k] = x0;
      d[k] = m[k * n + k];
      continue;
    }
    const inv = 1 / Math.sqrt(vv);
    v[k + 1] = (x0 - alpha) * inv;
    for (let i = k + 2; i < n; i++) v[i] = m[i * n + k] * inv;
    vs.push(v);
    // p = M₂₂ v, K = vᵀ p, w = p − K v; M₂₂ ← M₂₂ − 2(v wᵀ + w vᵀ).
    let K = 0;
    for (let i = k + 1; i < n; i++) {
      let t = 0;
      const row = i * n;
      for (let j = k + 1; j < n; j++) t += m[row + j] * v[j];
      p[i] = t;
      K += v[i] * t;
    }
    for (let i = k + 1; i < n; i++) p[i] -= K * v[i];
    for (let i = k + 1; i < n; i++) {
      const row = i * n;
      const vi = 2 * v[i];
      const wi = 2 * p[i];
      for (let j = k + 1; j < n; j++) m[row + j] -= vi * p[j] + wi * v[j];
    }
    d[k] = m[k * n + k];
    e[k] = alpha;
  }
  if (n >= 2) {
    d[n - 2] = m[(n - 2) * n + n - 2];
    e[n - 2] = m[(n - 1) * n + n - 2];
  }
  d[n - 1] = m[(n - 1) * n + n - 1];
  e[n - 1] = 0;
  // Q = H_{n−3} ⋯ H_0 (so that Q A Qᵀ is tridiagonal), built from the last reflector back as
  // Q ← Q H_k: then rows 0 … k of Q are still rows of the identity, so only rows k+1 … change.
  const Q = new Float64Array(n * n);
  for (let i = 0; i < n; i++) Q[i * n + i] = 1;
  for (let k = vs.length - 1; k >= 0; k--) {
    const v = vs[k];
    // Q ← Q H_k: for each row r, Q[r, :] −= 2 (Q[r, :]·v) vᵀ (only rows ≥ k+1 are non-trivial).
    for (let r = k + 1; r < n; r++) {
      const row = r * n;
      let t = 0;
      for (let j = k + 1; j < n; j++) t += Q[row + j] * v[j];
      if (t === 0) continue;
      t *= 2;
      for (let j = k + 1; j < n; j++) Q[row + j] -= t * v[j];
    }
  }
  return Q;
}

/**
 * Implicit QL on the symmetric tridiagonal (d, e) (e[i] couples i and i+1), accumulating each
 * rotation into rows i, i+1 of q. On return d holds the eigenvalues, q's rows their vectors.
 */
function ql(d: Float64Array, e: Float64Array, q: Float64Array, n: number): void {
  for (let l = 0; l < n; l++) {
    for (let sweep = 0; ; sweep++) {
      // The first m ≥ l whose coupling to m+1 is negligible against its neighbours.
      let m = l;
      for (; m < n - 1; m++) {
        const dd = Math.abs(d[m]) + Math.abs(d[m + 1]);
        if (Math.abs(e[m]) <= Number.EPSILON * dd) break;
      }
      if (m === l) break;
      if (sweep === MAX_SWEEPS) throw new Error(`eigenSymmetric: QL did not converge for eigenvalue ${l}`);
      // Shift from the leading 2×2 of the block: the eigenvalue of [[d_l, e_l], [e_l, d_{l+1}]] nearer d_l.
      let g = (d[l + 1] - d[l]) / (2 * e[l]);
      let r = Math.hypot(g, 1);
      g = d[m] - d[l] + e[l] / (g + (g >= 0 ? r : -r));
      let s = 1;
      let c = 1;
      let p = 0;
      let i = m - 1;
      for (; i >= l; i--) {
        const f = s * e[i];
        const b = c * e[i];
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          // Underflow: the block split; deflate and restart from l.
          d[i + 1] -= p;
          e[m] = 0;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1] - p;
        r = (d[i] - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        rotateRows(q, n, i, i + 1, c, s);
      }
      if (r === 0 && i >= l) continue;
      d[l] -= p;
      e[l] = g;
      e[m] = 0;
    }
  }
}

/** Rows (a, b) ← (c·a − s·b, s·a + c·b): the Givens rotation of one QL step, in the basis. */
function rotateRows(q: Float64Array, n: number, a: number, b: number, c: number, s: number): void {
  const ra = a * n;
  const rb = b * n;
  for (let k = 0; k < n; k++) {
    const x = q[ra + k];
    const y = q[rb + k];
    q[ra + k] = c * x - s * y;
    q[rb + k] = s * x + c * y;
  }
}

/** Sorts the eigenvalues ascending, moving the rows of q with them. */
function sortAscending(d: Float64Array, q: Float64Array, n: number): void {
  const order = Array.from({ length: n }, (_, i) => i).sort((x, y) => d[x] - d[y]);
  if (order.every((o, i) => o === i)) return;
  const values = Float64Array.from(order, (o) => d[o]);
  const rows = new Float64Array(n * n);
  order.forEach((o, i) => rows.set(q.subarray(o * n, o * n + n), i * n));
  d.set(values);
  q.set(rows);
}
