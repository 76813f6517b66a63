/**
 * Extreme eigenpairs of a symmetric operator.
 *
 * Lanczos: from a unit q₀, q_{j+1} β_j = A q_j − α_j q_j − β_{j−1} q_{j−1} with α_j = q_jᵀ A q_j,
 * so that A Q_m = Q_m T_m + β_m q_m e_mᵀ with T_m = tridiag(β, α, β). The Ritz pairs (θ, Q s) of
 * T_m approximate A's extreme eigenpairs first. In floating point the q_j lose orthogonality as
 * Ritz values converge (ghost copies appear), so every new vector is orthogonalised against all
 * earlier ones, twice (classical Gram-Schmidt, "twice is enough"). Then the residual of a Ritz
 * pair is ‖A y − θ y‖ = β_m |s_m| (the last component of s), which is the stopping test; the
 * residuals reported are recomputed from one more product per eigenpair.
 *
 * Power iteration (v ← A v / ‖A v‖) is the simple baseline: it finds the eigenvalue of largest
 * MAGNITUDE, at a rate |λ₂/λ₁| per product, where Lanczos' rate is set by the gap relative to the
 * whole spectrum.
 */
import { runLater, runNow, settle, type Later } from '../nd/later.js';
import { Rng } from '../nd/rng.js';
import type { SymmetricOperator } from './operator.js';
import { tridiagonalEigen } from './tridiagonal.js';

export interface LanczosRun {
  alpha: number[];
  /** beta[j] couples q_j and q_{j+1}; beta has one entry per step (the last is β_m). */
  beta: number[];
  basis: Float64Array[];
}

/** Below this fraction of ‖T‖ a new Lanczos vector is noise: the Krylov space is invariant. */
const BREAKDOWN = 1e-10;

/**
 * One Lanczos run of up to `steps` steps from `start` (normalised here), with full
 * reorthogonalisation. On breakdown (an invariant subspace) it continues with a fresh random
 * vector orthogonal to the basis and β = 0, so T stays exact. `after(run)` may stop it early.
 */
export function lanczos(op: SymmetricOperator, start: Float64Array, steps: number, rng: Rng, after?: (run: LanczosRun) => boolean): LanczosRun {
  return runNow(lanczosSteps(op, start, steps, rng, after), 'lanczos');
}

/** lanczos() with the operator's products settled (src/nd/later.ts): an operator that answers later too. */
export function* lanczosSteps(op: SymmetricOperator, start: Float64Array, steps: number, rng: Rng, after?: (run: LanczosRun) => boolean): Later<LanczosRun> {
  const n = op.dim;
  const m = Math.min(steps, n);
  const run: LanczosRun = { alpha: [], beta: [], basis: [] };
  let q = start.slice();
  if (!normalise(q)) throw new Error('lanczos: the start vector is zero or not finite');
  const w = new Float64Array(n);
  let scale = 0;
  for (let j = 0; j < m; j++) {
    run.basis.push(q);
    yield* settle(op.apply(q, w));
    const a = dotp(q, w);
    if (!Number.isFinite(a)) throw new Error(`lanczos: the operator returned a non-finite product at step ${j + 1}`);
    run.alpha.push(a);
    orthogonalise(w, run.basis);
    orthogonalise(w, run.basis);
    let b = Math.sqrt(dotp(w, w));
    scale = Math.max(scale, Math.abs(a) + b);
    if (j + 1 < m && b <= BREAKDOWN * scale) {
      w.set(randomUnit(rng, n));
      orthogonalise(w, run.basis);
      orthogonalise(w, run.basis);
      normalise(w);
      b = 0;
      q = w.slice();
    } else {
      q = w.slice();
      if (b > 0) for (let i = 0; i < n; i++) q[i] /= b;
    }
    run.beta.push(b);
    if (after && after(run)) break;
  }
  return run;
}

export interface TopEigenOptions {
  /** How many of the largest (algebraic) eigenvalues; default 1. */
  k?: number;
  /** Stop when every wanted Ritz residual ‖A y − θ y‖ ≤ tol · max|θ| (default 1e-6). */
  tol?: number;
  /** Most Lanczos steps (products), default min(dim, max(100, 10k)). */
  maxSteps?: number;
  /** Seed of the random start vector (default 1). */
  seed?: number;
  /** Start vector instead of a random one (warm start from an earlier eigenvector, say). */
  start?: Float64Array;
  /** Recompute each residual from a product (k more products; default true). */
  verify?: boolean;
  /** Called after every step with the step count and the top Ritz value. */
  onStep?: (step: number, top: number) => void;
}

export interface Eigenpairs {
  /** Largest first. */
  values: number[];
  vectors: Float64Array[];
  /** ‖A y − θ y‖ per eigenpair: recomputed when verify, else Lanczos' estimate β_m |s_m|. */
  residuals: number[];
  /** residual ≤ tol · max|θ| for each eigenpair. */
  converged: boolean[];
  steps: number;
  /** Operator products used, the verification included. */
  products: number;
}

/** The k largest eigenpairs by Lanczos with full reorthogonalisation. */
export function topEigenpairs(op: SymmetricOperator, options: TopEigenOptions = {}): Eigenpairs {
  return runNow(topEigenSteps(op, options), 'topEigenpairs');
}

/** topEigenpairs() for any operator, one that answers later (a model on WebGPU) included. */
export function topEigenpairsAsync(op: SymmetricOperator, options: TopEigenOptions = {}): Promise<Eigenpairs> {
  return runLater(topEigenSteps(op, options));
}

function* topEigenSteps(op: SymmetricOperator, options: TopEigenOptions): Later<Eigenpairs> {
  const k = options.k ?? 1;
  const tol = options.tol ?? 1e-6;
  if (!Number.isInteger(k) || k < 1) throw new Error(`top eigenpairs: k must be a positive integer, got ${k}`);
  if (k > op.dim) throw new Error(`top eigenpairs: k = ${k} exceeds the operator's dimension ${op.dim}`);
  if (!(tol > 0)) throw new Error(`top eigenpairs: tol must be positive, got ${tol}`);
  const maxSteps = Math.min(op.dim, options.maxSteps ?? Math.max(100, 10 * k));
  if (!Number.isInteger(maxSteps) || maxSteps < k) throw new Error(`top eigenpairs: maxSteps must be an integer ≥ k = ${k}, got ${options.maxSteps}`);
  const rng = new Rng(options.seed ?? 1);
  const ritz = (run: LanczosRun) => {
    const eig = tridiagonalEigen(run.alpha, run.beta.slice(0, -1));
    const m = run.alpha.length;
    const last = run.beta[m - 1];
    const norm = Math.max(...eig.values.map(Math.abs), Number.MIN_VALUE);
    const estimates = eig.values.slice(0, k).map((_, i) => Math.abs(last * eig.vectors[i][m - 1]));
    return { eig, estimates, norm };
  };
  if (options.start && options.start.length !== op.dim) throw new Error(`top eigenpairs: start vector of length ${options.start.length}, the operator's dimension is ${op.dim}`);
  const run = yield* lanczosSteps(op, options.start ?? randomUnit(rng, op.dim), maxSteps, rng, (r) => {
    const { eig, estimates, norm } = ritz(r);
    options.onStep?.(r.alpha.length, eig.values[0]);
    return r.alpha.length >= k && (r.alpha.length === op.dim || estimates.every((e) => e <= tol * norm));
  });
  const { eig, estimates, norm } = ritz(run);
  const m = run.alpha.length;
  const count = Math.min(k, m);
  const values = eig.values.slice(0, count);
  const vectors = values.map((_, i) => combine(run.basis, eig.vectors[i]));
  let products = m;
  let residuals = estimates.slice(0, count);
  if (options.verify ?? true) {
    const av = new Float64Array(op.dim);
    residuals = [];
    for (const [i, y] of vectors.entries()) {
      yield* settle(op.apply(y, av));
      products++;
      let s = 0;
      for (let j = 0; j < av.length; j++) s += (av[j] - values[i] * y[j]) ** 2;
      residuals.push(Math.sqrt(s));
    }
  }
  return { values, vectors, residuals, converged: residuals.map((r) => r <= tol * norm), steps: m, products };
}

export interface PowerOptions {
  /** Stop when ‖A v − θ v‖ ≤ tol · |θ| (default 1e-6). */
  tol?: number;
  maxIterations?: number;
  seed?: number;
}

export interface PowerResult {
  /** The Rayleigh quotient at the last iterate: the eigenvalue of largest magnitude. */
  value: number;
  vector: Float64Array;
  residual: number;
  converged: boolean;
  iterations: number;
}

/** Power iteration for the eigenvalue of largest magnitude (the baseline Lanczos is checked against). */
export function powerIteration(op: SymmetricOperator, options: PowerOptions = {}): PowerResult {
  return runNow(powerSteps(op, options), 'powerIteration');
}

/** powerIteration() for any operator, one that answers later included. */
export function powerIterationAsync(op: SymmetricOperator, options: PowerOptions = {}): Promise<PowerResult> {
  return runLater(powerSteps(op, options));
}

function* powerSteps(op: SymmetricOperator, options: PowerOptions): Later<PowerResult> {
  const tol = options.tol ?? 1e-6;
  const maxIterations = options.maxIterations ?? 1000;
  const v = randomUnit(new Rng(options.seed ?? 1), op.dim);
  const av = new Float64Array(op.dim);
  let value = 0;
  let residual = Infinity;
  let it = 0;
  while (it < maxIterations) {
    yield* settle(op.apply(v, av));
    it++;
    value = dotp(v, av);
    let r = 0;
    for (let i = 0; i < v.length; i++) r += (av[i] - value * v[i]) ** 2;
    residual = Math.sqrt(r);
    if (!Number.isFinite(residual)) throw new Error(`power iteration: the operator returned a non-finite product at iteration ${it}`);
    if (residual <= tol * Math.abs(value)) break;
    v.set(av);
    if (!normalise(v)) break;
  }
  return { value, vector: v, residual, converged: residual <= tol * Math.abs(value), iterations: it };
}

/** A uniformly random direction (normalised Gaussian). */
export function randomUnit(rng: Rng, n: number): Float64Array {
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.normal();
  normalise(v);
  return v;
}

function dotp(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function normalise(v: Float64Array): boolean {
  const n = Math.sqrt(dotp(v, v));
  if (!(n > 0) || !Number.isFinite(n)) return false;
  for (let i = 0; i < v.length; i++) v[i] /= n;
  return true;
}

/** w −= Q (Qᵀ w) */
function orthogonalise(w: Float64Array, basis: Float64Array[]): void {
  const c = basis.map((q) => dotp(q, w));
  basis.forEach((q, j) => {
    const cj = c[j];
    for (let i = 0; i < w.length; i++) w[i] -= cj * q[i];
  });
}

/** Q s */
function combine(basis: Float64Array[], s: Float64Array): Float64Array {
  const y = new Float64Array(basis[0].length);
  basis.forEach((q, j) => {
    for (let i = 0; i < y.length; i++) y[i] += s[j] * q[i];
  });
  return y;
}
