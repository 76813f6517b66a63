/**
 * Hutchinson's trace and diagonal estimators. Trace: for Rademacher z (entries ±1),
 * E[zᵀ A z] = Σ_i A_ii = tr A, with variance 2 Σ_{i≠j} A_ij² per probe. The estimate is the mean
 * over probes, its standard error the sample standard deviation over √probes; it stops early
 * once that error falls below a chosen fraction of the estimate. Diagonal: below.
 */
import { runLater, runNow, settle, type Later } from '../nd/later.js';
import { Rng } from '../nd/rng.js';
import type { SymmetricOperator } from './operator.js';

export interface TraceOptions {
  /** Most probes (default 100). */
  maxProbes?: number;
  /** Fewest probes before the relative-error stop is consulted (default 10; at least 2). */
  minProbes?: number;
  /** Stop once stdError ≤ relativeStdError · |trace| (default: never, run maxProbes). */
  relativeStdError?: number;
  seed?: number;
  /** Called after each probe with the running estimate. */
  onProbe?: (probes: number, trace: number, stdError: number) => void;
}

export interface TraceEstimate {
  trace: number;
  /** Standard error of the mean over probes (NaN with a single probe). */
  stdError: number;
  probes: number;
  /** zᵀ A z per probe, in order. */
  samples: number[];
}

export function hutchinsonTrace(op: SymmetricOperator, options: TraceOptions = {}): TraceEstimate {
  return runNow(traceSteps(op, options), 'hutchinsonTrace');
}

/** hutchinsonTrace() for any operator, one that answers later (a model on WebGPU) included. */
export function hutchinsonTraceAsync(op: SymmetricOperator, options: TraceOptions = {}): Promise<TraceEstimate> {
  return runLater(traceSteps(op, options));
}

function* traceSteps(op: SymmetricOperator, options: TraceOptions): Later<TraceEstimate> {
  const maxProbes = options.maxProbes ?? 100;
  const minProbes = Math.min(maxProbes, Math.max(2, options.minProbes ?? 10));
  if (!Number.isInteger(maxProbes) || maxProbes < 1) throw new Error(`trace: maxProbes must be a positive integer, got ${maxProbes}`);
  const rel = options.relativeStdError;
  if (rel !== undefined && !(rel > 0)) throw new Error(`trace: relativeStdError must be positive, got ${rel}`);
  const rng = new Rng(options.seed ?? 1);
  const z = new Float64Array(op.dim);
  const az = new Float64Array(op.dim);
  const samples: number[] = [];
  let est = { trace: NaN, stdError: NaN };
  while (samples.length < maxProbes) {
    for (let i = 0; i < z.length; i++) z[i] = rng.nextU32() & 1 ? 1 : -1;
    yield* settle(op.apply(z, az));
    let s = 0;
    for (let i = 0; i < z.length; i++) s += z[i] * az[i];
    if (!Number.isFinite(s)) throw new Error(`trace: the operator returned a non-finite product at probe ${samples.length + 1}`);
    samples.push(s);
    est = meanAndError(samples);
    options.onProbe?.(samples.length, est.trace, est.stdError);
    if (rel !== undefined && samples.length >= minProbes && est.stdError <= rel * Math.abs(est.trace)) break;
  }
  return { ...est, probes: samples.length, samples };
}

export interface DiagonalOptions {
  /** Probes (default 100): the standard error of each entry falls as 1/√probes. */
  probes?: number;
  seed?: number;
  onProbe?: (probes: number) => void;
}

export interface DiagonalEstimate {
  /** The mean over probes of z ⊙ A z: unbiased for diag A, since E[z_i z_j] = [i = j]. */
  diagonal: Float64Array;
  /** Per entry, the standard error of that mean (NaN with a single probe). */
  stdError: Float64Array;
  probes: number;
}

/**
 * Hutchinson's diagonal estimator (Bekas, Kokiopoulou & Saad 2007): for Rademacher z,
 * E[z ⊙ A z]_i = A_ii, with variance Σ_{j≠i} A_ij² per probe. Any operator, products only: the
 * check on the exact diagonals, and the diagonal where no exact one exists (batch norm in
 * training mode, smooth activations' Hessian).
 */
export function hutchinsonDiagonal(op: SymmetricOperator, options: DiagonalOptions = {}): DiagonalEstimate {
  return runNow(diagonalSteps(op, options), 'hutchinsonDiagonal');
}

/** hutchinsonDiagonal() for any operator, one that answers later (a model on WebGPU) included. */
export function hutchinsonDiagonalAsync(op: SymmetricOperator, options: DiagonalOptions = {}): Promise<DiagonalEstimate> {
  return runLater(diagonalSteps(op, options));
}

function* diagonalSteps(op: SymmetricOperator, options: DiagonalOptions): Later<DiagonalEstimate> {
  const probes = options.probes ?? 100;
  if (!Number.isInteger(probes) || probes < 1) throw new Error(`diagonal: probes must be a positive integer, got ${probes}`);
  const rng = new Rng(options.seed ?? 1);
  const z = new Float64Array(op.dim);
  const az = new Float64Array(op.dim);
  // Welford's running mean and sum of squared deviations, per entry.
  const mean = new Float64Array(op.dim);
  const m2 = new Float64Array(op.dim);
  for (let p = 1; p <= probes; p++) {
    for (let i = 0; i < z.length; i++) z[i] = rng.nextU32() & 1 ? 1 : -1;
    yield* settle(op.apply(z, az));
    for (let i = 0; i < z.length; i++) {
      const s = z[i] * az[i];
      if (!Number.isFinite(s)) throw new Error(`diagonal: the operator returned a non-finite product at probe ${p}`);
      const d = s - mean[i];
      mean[i] += d / p;
      m2[i] += d * (s - mean[i]);
    }
    options.onProbe?.(p);
  }
  const stdError = m2.map((v) => (probes < 2 ? NaN : Math.sqrt(v / (probes - 1) / probes)));
  return { diagonal: mean, stdError, probes };
}

function meanAndError(xs: number[]): { trace: number; stdError: number } {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  if (n < 2) return { trace: mean, stdError: NaN };
  const variance = xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1);
  return { trace: mean, stdError: Math.sqrt(variance / n) };
}
