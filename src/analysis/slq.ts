/**
 * Spectral density by stochastic Lanczos quadrature (Golub & Meurant; Ghorbani et al. 2019).
 * For a unit probe v, vᵀ f(A) v = Σ_i (u_iᵀ v)² f(λ_i) is a Riemann-Stieltjes integral against
 * the spectral measure of A seen from v; m Lanczos steps from v give its m-point Gauss quadrature:
 * nodes θ_j (the Ritz values) and weights τ_j = s_{1j}² (first components of T's eigenvectors),
 * exact for polynomials of degree ≤ 2m − 1. For random v, E[(u_iᵀ v)²] = 1/dim, so the average
 * over probes of Σ_j τ_j δ(x − θ_j) estimates the eigenvalue distribution (1/dim) Σ_i δ(x − λ_i).
 * Gaussian broadening of width σ turns it into a density that integrates to 1.
 */
import { runLater, runNow, type Later } from '../nd/later.js';
import { Rng } from '../nd/rng.js';
import { lanczosSteps, randomUnit } from './lanczos.js';
import type { SymmetricOperator } from './operator.js';
import { tridiagonalEigen } from './tridiagonal.js';

export interface DensityOptions {
  /** Random probes (default 10). */
  probes?: number;
  /** Lanczos steps per probe (default min(dim, 80)). */
  steps?: number;
  /** Width of the Gaussian broadening (default 1 % of the Ritz values' range). */
  sigma?: number;
  /** Grid points (default 1000) over [min θ − 5σ, max θ + 5σ]. */
  points?: number;
  seed?: number;
  onProbe?: (probe: number) => void;
}

export interface SpectralDensity {
  grid: number[];
  density: number[];
  sigma: number;
  /** Per probe: Ritz values (nodes) and their weights, which sum to 1. */
  ritz: { values: number[]; weights: number[] }[];
}

export function spectralDensity(op: SymmetricOperator, options: DensityOptions = {}): SpectralDensity {
  return runNow(densitySteps(op, options), 'spectralDensity');
}

/** spectralDensity() for any operator, one that answers later (a model on WebGPU) included. */
export function spectralDensityAsync(op: SymmetricOperator, options: DensityOptions = {}): Promise<SpectralDensity> {
  return runLater(densitySteps(op, options));
}

function* densitySteps(op: SymmetricOperator, options: DensityOptions): Later<SpectralDensity> {
  const probes = options.probes ?? 10;
  const steps = Math.min(op.dim, options.steps ?? 80);
  const points = options.points ?? 1000;
  if (!Number.isInteger(probes) || probes < 1) throw new Error(`density: probes must be a positive integer, got ${probes}`);
  if (!Number.isInteger(steps) || steps < 1) throw new Error(`density: steps must be a positive integer, got ${options.steps}`);
  if (!Number.isInteger(points) || points < 2) throw new Error(`density: points must be an integer ≥ 2, got ${points}`);
  if (options.sigma !== undefined && !(options.sigma > 0)) throw new Error(`density: sigma must be positive, got ${options.sigma}`);
  const rng = new Rng(options.seed ?? 1);
  const ritz: SpectralDensity['ritz'] = [];
  for (let p = 0; p < probes; p++) {
    const run = yield* lanczosSteps(op, randomUnit(rng, op.dim), steps, rng);
    const eig = tridiagonalEigen(run.alpha, run.beta.slice(0, -1));
    ritz.push({ values: eig.values, weights: eig.vectors.map((s) => s[0] * s[0]) });
    options.onProbe?.(p + 1);
  }
  const all = ritz.flatMap((r) => r.values);
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  const sigma = options.sigma ?? Math.max(0.01 * (hi - lo), 1e-12 * Math.max(1, Math.abs(hi)));
  const grid = Array.from({ length: points }, (_, i) => lo - 5 * sigma + ((hi - lo + 10 * sigma) * i) / (points - 1));
  const norm = 1 / (probes * sigma * Math.sqrt(2 * Math.PI));
  const density = grid.map((x) => {
    let d = 0;
    for (const r of ritz) r.values.forEach((t, j) => (d += r.weights[j] * Math.exp(-0.5 * ((x - t) / sigma) ** 2)));
    return d * norm;
  });
  return { grid, density, sigma, ritz };
}
