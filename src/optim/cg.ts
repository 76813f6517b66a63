/**
 * Preconditioned conjugate gradient for A x = b, A symmetric positive definite and known only
 * through the product v ↦ A v, written for Hessian-free optimisation (Martens 2010, §4).
 *
 * CG minimises the quadratic φ(x) = ½ xᵀA x − bᵀx, whose minimiser solves A x = b. Two things
 * differ from a textbook CG, both from Martens:
 * - it stops on *relative progress in φ*, not on the residual: at iteration i > k, with
 *   k = max(10, ⌈0.1·i⌉), stop when φ(x_i) < 0 and (φ(x_i) − φ(x_{i−k})) / φ(x_i) < k·ε;
 * - it keeps the iterates x_i at i = ⌈5·1.3ʲ⌉ (j = 0, 1, ...) and the last one, so HF can back
 *   track to an earlier (shorter) iterate when the quadratic model overreaches.
 *
 * φ costs no extra product: with r = b − A x, φ(x) = ½ xᵀ(b − r) − bᵀx = −½ xᵀ(b + r).
 * x and r are updated out of place into a second buffer and swapped, so a product that returns
 * NaN/Inf (a bad curvature batch) is caught before it reaches the current iterate.
 */
import type { FloatArray } from '../nd/dtype.js';
import { runLater, runNow, settle, type Later, type Maybe } from '../nd/later.js';
import { dot, like } from '../nd/vec.js';

export interface CgProblem {
  /**
   * out = A v. Must not keep references to v or out. A product that lands later (a model on
   * WebGPU) returns a Promise; such a problem is solved by solveAsync.
   */
  apply(v: FloatArray, out: FloatArray): Maybe<void>;
  b: FloatArray;
  /** Warm start x_0 (read, not kept); the zero vector when absent. */
  x0?: FloatArray;
  /**
   * M⁻¹, symmetric positive definite: its diagonal (z_i = preconditioner_i · r_i) or a product
   * z = M⁻¹ r (must not keep references to r or z); the identity when absent.
   */
  preconditioner?: FloatArray | ((r: FloatArray, z: FloatArray) => void);
}

/** A CgProblem whose product is a step (later.ts). */
export interface CgSteps extends Omit<CgProblem, 'apply'> {
  apply(v: FloatArray, out: FloatArray): Later<void>;
}

function settled(problem: CgProblem): CgSteps {
  return { ...problem, apply: (v, out) => settle(problem.apply(v, out)) };
}

export interface CgOptions {
  /** Iteration cap (products with A, not counting the one a warm start needs). */
  maxIterations: number;
  /** ε of the relative-progress rule; Martens uses 5e-4. */
  tolerance?: number;
}

/** Why CG stopped. */
export type CgStop =
  | 'progress' // Martens' relative-progress rule fired
  | 'max-iterations'
  | 'converged' // the residual is exactly zero
  | 'non-positive-curvature' // pᵀA p ≤ 0: A is not positive definite along p
  | 'non-finite'; // a product produced NaN/Inf; the iterate before it is the last

export interface CgIterate {
  readonly iteration: number;
  readonly x: FloatArray;
  readonly phi: number;
}

export interface CgResult {
  /** Number of completed iterations (each one product with A). */
  readonly iterations: number;
  /** φ(x_i) for i = 0..iterations. */
  readonly phi: readonly number[];
  /** Kept iterates in increasing order; the last is x_iterations. Valid until the next solve. */
  readonly iterates: readonly CgIterate[];
  readonly stop: CgStop;
}

export const MARTENS_EPSILON = 5e-4;

/**
 * A CG solver for vectors of one length. Its work vectors (and the buffers of kept iterates)
 * are allocated once and reused by every solve: nothing of length P is allocated per iteration.
 */
export class ConjugateGradient {
  private x: FloatArray;
  private xNext: FloatArray;
  private r: FloatArray;
  private rNext: FloatArray;
  private readonly z: FloatArray;
  private readonly p: FloatArray;
  private readonly ap: FloatArray;
  /** Buffers for kept iterates; grows to the largest count any solve needed, then is reused. */
  private readonly pool: FloatArray[] = [];

  /** `template` fixes the length and element type (a model's parameter vector, say). */
  constructor(template: FloatArray) {
    this.x = like(template);
    this.xNext = like(template);
    this.r = like(template);
    this.rNext = like(template);
    this.z = like(template);
    this.p = like(template);
    this.ap = like(template);
  }

  solve(problem: CgProblem, options: CgOptions): CgResult {
    return runNow(this.steps(settled(problem), options), 'ConjugateGradient.solve');
  }

  /** solve() with products that resolve later. */
  solveAsync(problem: CgProblem, options: CgOptions): Promise<CgResult> {
    return runLater(this.steps(settled(problem), options));
  }

  /** The solve with its products as steps (later.ts), for callers that are steps themselves (HF). */
  *steps(problem: CgSteps, options: CgOptions): Later<CgResult> {
    const { apply, b, x0, preconditioner: m } = problem;
    const n = this.x.length;
    const diag = typeof m === 'function' ? undefined : m;
    const precondition = typeof m === 'function' ? m : undefined;
    for (const [name, v] of [['b', b], ['x0', x0], ['preconditioner', diag]] as const) {
      if (v !== undefined && v.length !== n) {
        throw new Error(`ConjugateGradient: ${name} has length ${v.length}, the solver was made for ${n}`);
      }
    }
    const eps = options.tolerance ?? MARTENS_EPSILON;
    const { z, p, ap } = this;

    // r_0 = b − A x_0; a warm start whose product is not finite is dropped (x_0 = 0, r_0 = b).
    let x = this.x;
    let r = this.r;
    let warm = false;
    if (x0 !== undefined) {
      x.set(x0);
      yield* apply(x, ap);
      let ok = true;
      for (let i = 0; i < n; i++) {
        r[i] = b[i] - ap[i];
        if (!Number.isFinite(r[i]) || !Number.isFinite(x[i])) ok = false;
      }
      warm = ok;
    }
    if (!warm) {
      x.fill(0);
      r.set(b);
    }
    // z_0 = M⁻¹ r_0, p_0 = z_0
    let rz = 0;
    if (precondition) {
      precondition(r, z);
      p.set(z);
      rz = dot(r, z);
    } else {
      for (let i = 0; i < n; i++) {
        const zi = diag === undefined ? r[i] : diag[i] * r[i];
        z[i] = zi;
        p[i] = zi;
        rz += r[i] * zi;
      }
    }
    const phi = [-0.5 * (dot(b, x) + dot(r, x))];
    const iterates: CgIterate[] = [];
    let nextKeep = 5; // ⌈5·1.3ʲ⌉ at j = 0
    let j = 0;
    let stop: CgStop = 'max-iterations';
    let i = 0;

    while (i < options.maxIterations) {
      if (rz === 0) {
        stop = 'converged';
        break;
      }
      yield* apply(p, ap);
      const pAp = dot(p, ap);
      if (!Number.isFinite(pAp)) {
        stop = 'non-finite';
        break;
      }
      if (pAp <= 0) {
        stop = 'non-positive-curvature';
        break;
      }
      const alpha = rz / pAp;
      // x_{i+1} = x_i + α p, r_{i+1} = r_i − α A p, z = M⁻¹ r_{i+1}, fused with the sums for φ and rᵀz.
      const xn = this.xNext;
      const rn = this.rNext;
      let bx = 0;
      let rx = 0;
      let rzNext = 0;
      for (let k = 0; k < n; k++) {
        const xk = x[k] + alpha * p[k];
        const rk = r[k] - alpha * ap[k];
        xn[k] = xk;
        rn[k] = rk;
        bx += b[k] * xk;
        rx += rk * xk;
        if (precondition) continue;
        const zk = diag === undefined ? rk : diag[k] * rk;
        z[k] = zk;
        rzNext += rk * zk;
      }
      if (precondition) {
        precondition(rn, z);
        rzNext = dot(rn, z);
      }
      const phiNext = -0.5 * (bx + rx);
      if (!Number.isFinite(phiNext) || !Number.isFinite(rzNext)) {
        stop = 'non-finite';
        break;
      }
      // Accept the iterate: swap buffers, then p_{i+1} = z + β p with β = r_{i+1}ᵀz_{i+1} / r_iᵀz_i.
      this.xNext = x;
      this.rNext = r;
      x = xn;
      r = rn;
      const beta = rzNext / rz;
      for (let k = 0; k < n; k++) p[k] = z[k] + beta * p[k];
      rz = rzNext;
      i++;
      phi.push(phiNext);

      if (i === nextKeep) {
        iterates.push(this.keep(iterates.length, i, x, phiNext));
        j++;
        nextKeep = Math.ceil(5 * 1.3 ** j);
      }
      // Martens' rule: the last k iterations improved φ by less than k·ε relative to φ itself.
      const lag = Math.max(10, Math.ceil(0.1 * i));
      if (i > lag && phiNext < 0 && (phiNext - phi[i - lag]) / phiNext < lag * eps) {
        stop = 'progress';
        break;
      }
    }
    this.x = x;
    this.r = r;
    if (iterates.length === 0 || iterates[iterates.length - 1].iteration !== i) {
      iterates.push(this.keep(iterates.length, i, x, phi[i]));
    }
    return { iterations: i, phi, iterates, stop };
  }

  private keep(slot: number, iteration: number, x: FloatArray, phi: number): CgIterate {
    if (slot === this.pool.length) this.pool.push(like(x));
    const buffer = this.pool[slot];
    buffer.set(x);
    return { iteration, x: buffer, phi };
  }
}
