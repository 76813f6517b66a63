/**
 * Hutch++ (Meyer, Musco, Musco & Woodruff, SOSA 2021): the trace from m products with error
 * O(1/m) instead of Hutchinson's O(1/√m), by taking the top of the spectrum exactly. With
 * k = m/3 Rademacher probes S and G:
 *   Q = orth(A S)                     a basis that captures A's largest eigenvalues
 *   tr A ≈ tr(Qᵀ A Q) + (1/k) Σ_j g_jᵀ (I − QQᵀ) A (I − QQᵀ) g_j
 * the first term exact on span Q, the second Hutchinson on what remains, whose off-diagonal
 * mass (the estimator's variance) the projection removed. Curvature spectra of networks are
 * dominated by a few outliers, the case where Hutch++ gains most.
 */
import { runLater, runNow, settle, type Later } from '../nd/later.js';
import { Rng } from '../nd/rng.js';
import type { SymmetricOperator } from './operator.js';

export interface HutchPlusPlusOptions {
  /** Operator products in all (default 99), a multiple of 3 (rounded down to one). */
  products?: number;
  seed?: number;
}

export interface HutchPlusPlusEstimate {
  trace: number;
  /** tr(Qᵀ A Q): the part from the captured subspace, exact for it. */
  captured: number;
  /** The Hutchinson estimate of the rest, and its standard error over the k probes. */
  residual: number;
  residualStdError: number;
  products: number;
}

export function hutchPlusPlus(op: SymmetricOperator, options: HutchPlusPlusOptions = {}): HutchPlusPlusEstimate {
  return runNow(hutchPlusPlusSteps(op, options), 'hutchPlusPlus');
}

/** hutchPlusPlus() for any operator, one that answers later (a model on WebGPU) included. */
export function hutchPlusPlusAsync(op: SymmetricOperator, options: HutchPlusPlusOptions = {}): Promise<HutchPlusPlusEstimate> {
  return runLater(hutchPlusPlusSteps(op, options));
}

function* hutchPlusPlusSteps(op: SymmetricOperator, options: HutchPlusPlusOptions): Later<HutchPlusPlusEstimate> {
  const m = options.products ?? 99;
  if (!Number.isInteger(m) || m < 3) throw new Error(`hutch++: products must be an integer ≥ 3, got ${m}`);
  const n = op.dim;
  const k = Math.min(Math.floor(m / 3), n);
  const rng = new Rng(options.seed ?? 1);
  const rademacher = () => Float64Array.from({ length: n }, () => (rng.nextU32() & 1 ? 1 : -1));
  const apply = function* (v: Float64Array): Later<Float64Array> {
    const out = new Float64Array(n);
    yield* settle(op.apply(v, out));
    for (const x of out) if (!Number.isFinite(x)) throw new Error('hutch++: the operator returned a non-finite product');
    return out;
  };
  // Q: an orthonormal basis of A S (Gram-Schmidt twice; columns that vanish are dropped).
  const Q: Float64Array[] = [];
  for (let j = 0; j < k; j++) {
    const w = yield* apply(rademacher());
    project(w, Q);
    project(w, Q);
    const norm = Math.sqrt(dot(w, w));
    if (norm > 1e-12 * Math.sqrt(n)) Q.push(w.map((v) => v / norm));
  }
  let captured = 0;
  for (const q of Q) captured += dot(q, yield* apply(q));
  const samples: number[] = [];
  for (let j = 0; j < k; j++) {
    const g = rademacher();
    project(g, Q);
    samples.push(dot(g, yield* apply(g)));
  }
  const residual = samples.reduce((a, b) => a + b, 0) / k;
  const variance = k > 1 ? samples.reduce((a, s) => a + (s - residual) ** 2, 0) / (k - 1) : NaN;
  return { trace: captured + residual, captured, residual, residualStdError: Math.sqrt(variance / k), products: k + Q.length + k };
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** w ← (I − QQᵀ) w */
function project(w: Float64Array, Q: Float64Array[]): void {
  for (const q of Q) {
    const c = dot(q, w);
    for (let i = 0; i < w.length; i++) w[i] -= c * q[i];
  }
}
