/**
 * Hessian-free optimisation (Martens 2010, "Deep learning via Hessian-free optimization").
 *
 * One step on a gradient batch B with curvature batch C (the first `curvatureBatch` samples of B,
 * or a batch the caller passes):
 *  1. g = ∇f(θ) on B.  With weight cost κ: f ← f + ½κ‖θ‖², g ← g + κθ, G ← G + κI.
 *  2. Solve (G + λI) d = −g by preconditioned CG (cg.ts), G the Gauss-Newton matrix on C, warm
 *     started from 0.95 × the previous solve's last iterate, preconditioner
 *     M = (diag(Σ gᵢ²) + λ + κ)^ξ, ξ = 3/4 (Martens §4.7; the Model gives Σ gᵢ² on C).
 *  3. CG backtracking (§4.6): from the last kept iterate, walk back while the loss on C improves.
 *  4. Reduction ratio on C: ρ = (f(θ+d) − f(θ)) / (q(d) − q(0)), q the *undamped* quadratic model
 *     q(d) − q(0) = gᵀd + ½dᵀ(G + κI)d = φ(d) − ½λ‖d‖² (φ, the damped CG objective, is tracked by CG).
 *     Levenberg-Marquardt (§4.1): ρ < 1/4 → λ·3/2; ρ > 3/4 → λ·2/3.
 *  5. Armijo line search on B: the largest t ∈ {1, 0.8, 0.8², ...} (20 tries) with
 *     f(θ + t d) ≤ f(θ) + c·t·gᵀd, c = 10⁻²; none found → no step.
 * A candidate whose loss is NaN/Inf is never taken: if every kept iterate is non-finite, the step
 * is rejected, λ raised by 3/2 and the warm start reset. The parameters stay finite: they are
 * either restored to θ bit for bit or set to a θ + t·d whose loss was finite.
 */
import type { FloatArray } from '../nd/dtype.js';
import { sliceBatch, type Batch, type Model } from '../nd/model.js';
import { allFinite, dot, like } from '../nd/vec.js';
import { ConjugateGradient, MARTENS_EPSILON, type CgStop } from './cg.js';
import {
  readNumber,
  readState,
  readVector,
  restoreVector,
  vectorToJson,
  type Optimizer,
  type StepReport,
} from './optimizer.js';

export interface HfOptions {
  /** Initial damping λ₀; default 1. */
  lambda?: number;
  /** CG iteration cap per step; default 100 (Martens uses up to 250). */
  maxCgIterations?: number;
  /** ε of Martens' CG stopping rule; default 5e-4. */
  cgTolerance?: number;
  /** Samples of each batch (its first ones) used for curvature; default: the whole batch. */
  curvatureBatch?: number;
  /** Warm start = decay × the previous solve's last iterate; default 0.95 (0 disables). */
  warmStartDecay?: number;
  /** ξ of the preconditioner (diag(Σgᵢ²) + λ + κ)^ξ; default 0.75 (0 = no preconditioning). */
  preconditionerExponent?: number;
  /** L2 weight cost κ on every parameter (the Model has no bias mask); default 0. */
  weightCost?: number;
  /** Armijo constant c; default 1e-2. */
  armijo?: number;
  /** Step-length factor per line-search try; default 0.8. */
  lineSearchShrink?: number;
  /** Line-search tries before giving up the step; default 20. */
  lineSearchTries?: number;
}

export interface HfReport extends StepReport {
  /** Damping for the next step (after the Levenberg-Marquardt update). */
  readonly lambda: number;
  /** Reduction ratio on the curvature batch; NaN when undefined (no finite candidate). */
  readonly rho: number;
  readonly cgIterations: number;
  readonly cgStop: CgStop;
  /** The CG iteration backtracking chose. */
  readonly cgChosen: number;
  /** Line-search step length t; 0 when no step was taken. */
  readonly stepSize: number;
  /** Loss on the gradient batch after the step (= loss when rejected). */
  readonly lossAfter: number;
}

const NAME = 'hf';
const DAMPING_UP = 3 / 2;
const DAMPING_DOWN = 2 / 3;

/** Work vectors for one model size, allocated on the first step. */
interface Buffers {
  readonly cg: ConjugateGradient;
  readonly theta: FloatArray;
  readonly grad: FloatArray;
  readonly negGrad: FloatArray;
  readonly precond: FloatArray;
  readonly warm: FloatArray;
}

export class HessianFree implements Optimizer<HfReport> {
  readonly name = NAME;
  private readonly o: Required<HfOptions>;
  private lambda: number;
  private steps = 0;
  /** Whether `warm` holds a usable warm start. */
  private hasWarm = false;
  private buffers: Buffers | null = null;
  private pendingWarm: number[] | null = null;

  constructor(options: HfOptions = {}) {
    this.o = {
      lambda: 1,
      maxCgIterations: 100,
      cgTolerance: MARTENS_EPSILON,
      curvatureBatch: Infinity,
      warmStartDecay: 0.95,
      preconditionerExponent: 0.75,
      weightCost: 0,
      armijo: 1e-2,
      lineSearchShrink: 0.8,
      lineSearchTries: 20,
      ...options,
    };
    const o = this.o;
    if (!(o.lambda > 0 && Number.isFinite(o.lambda))) throw new Error(`HessianFree: lambda must be > 0, got ${o.lambda}`);
    if (!(Number.isInteger(o.maxCgIterations) && o.maxCgIterations > 0)) {
      throw new Error(`HessianFree: maxCgIterations must be a positive integer, got ${o.maxCgIterations}`);
    }
    if (!((Number.isInteger(o.curvatureBatch) && o.curvatureBatch > 0) || o.curvatureBatch === Infinity)) {
      throw new Error(`HessianFree: curvatureBatch must be a positive integer, got ${o.curvatureBatch}`);
    }
    if (!(o.lineSearchShrink > 0 && o.lineSearchShrink < 1)) {
      throw new Error(`HessianFree: lineSearchShrink must be in (0, 1), got ${o.lineSearchShrink}`);
    }
    if (!(o.weightCost >= 0)) throw new Error(`HessianFree: weightCost must be ≥ 0, got ${o.weightCost}`);
    this.lambda = o.lambda;
  }

  /** One HF step on `batch`; curvature on `curvatureBatch` when given, else on the batch's head. */
  step(model: Model, batch: Batch, curvatureBatch?: Batch): HfReport {
    const b = this.ensureBuffers(model.params);
    const { theta, grad, negGrad, precond, warm } = b;
    const params = model.params;
    const kappa = this.o.weightCost;
    const cb = curvatureBatch ?? sliceBatch(batch, 0, Math.min(batch.n, this.o.curvatureBatch));
    this.steps++;

    const loss = model.gradient(batch, grad) + (kappa > 0 ? 0.5 * kappa * dot(params, params) : 0);
    if (kappa > 0) for (let i = 0; i < grad.length; i++) grad[i] += kappa * params[i];
    const report = (r: Partial<HfReport>): HfReport => ({
      loss, accepted: false, lambda: this.lambda, rho: NaN, cgIterations: 0, cgStop: 'max-iterations',
      cgChosen: 0, stepSize: 0, lossAfter: loss, ...r,
    });
    // Nothing to solve from a non-finite point; the caller's parameters are left as they are.
    if (!Number.isFinite(loss) || !allFinite(grad)) return report({});
    theta.set(params);
    for (let i = 0; i < grad.length; i++) negGrad[i] = -grad[i];

    // Σ gᵢ² and the curvature object are computed before any other pass on C, because a model
    // may keep the curvature's forward pass in buffers that later loss evaluations overwrite.
    const lambda = this.lambda;
    const shift = lambda + kappa;
    const xi = this.o.preconditionerExponent;
    let preconditioner: FloatArray | undefined;
    if (xi !== 0) {
      model.sumSquaredGradients(cb, precond);
      for (let i = 0; i < precond.length; i++) precond[i] = (precond[i] + shift) ** -xi;
      preconditioner = allFinite(precond) ? precond : undefined;
    }
    const curvature = model.curvature(cb);
    const result = b.cg.solve(
      {
        apply: (v, out) => {
          curvature.gv(v, out);
          for (let i = 0; i < out.length; i++) out[i] += shift * v[i];
        },
        b: negGrad,
        x0: this.hasWarm ? warm : undefined,
        preconditioner,
      },
      { maxIterations: this.o.maxCgIterations, tolerance: this.o.cgTolerance },
    );
    const { iterates } = result;
    const last = iterates[iterates.length - 1];
    // Next warm start: the decayed last iterate (not the backtracked one), as Martens does.
    this.hasWarm = this.o.warmStartDecay > 0 && allFinite(last.x);
    if (this.hasWarm) for (let i = 0; i < warm.length; i++) warm[i] = this.o.warmStartDecay * last.x[i];

    // CG backtracking on C (Martens §4.6): walk back from the last iterate while the loss improves.
    const objective = (on: Batch): number => {
      const f = model.loss(on) + (kappa > 0 ? 0.5 * kappa * dot(params, params) : 0);
      return Number.isFinite(f) && allFinite(params) ? f : Infinity;
    };
    const lossAt = (d: FloatArray, t: number, on: Batch): number => {
      for (let i = 0; i < params.length; i++) params[i] = theta[i] + t * d[i];
      return objective(on);
    };
    let chosen = iterates.length - 1;
    let fChosen = lossAt(iterates[chosen].x, 1, cb);
    while (chosen > 0) {
      const f = lossAt(iterates[chosen - 1].x, 1, cb);
      if (!(f < fChosen)) break;
      chosen--;
      fChosen = f;
    }
    const { x: d, iteration: cgChosen, phi: phiChosen } = iterates[chosen];
    const cgReport = { cgIterations: result.iterations, cgStop: result.stop, cgChosen };
    params.set(theta);
    if (fChosen === Infinity) {
      // Every candidate blew up: reject, damp harder, and do not warm start from this solve.
      this.lambda = lambda * DAMPING_UP;
      this.hasWarm = false;
      return report({ lambda: this.lambda, ...cgReport });
    }

    // ρ on C with the undamped model q(d) − q(0) = φ(d) − ½λ‖d‖²; undefined (NaN) counts as bad.
    const predicted = phiChosen - 0.5 * lambda * dot(d, d);
    const rho = predicted < 0 ? (fChosen - objective(cb)) / predicted : NaN;
    if (!(rho >= 0.25)) this.lambda = lambda * DAMPING_UP;
    else if (rho > 0.75) this.lambda = lambda * DAMPING_DOWN;

    // Armijo line search on B: t = 1, 0.8, 0.8², ... until f(θ + t d) ≤ f(θ) + c·t·gᵀd.
    const slope = dot(grad, d);
    let t = 1;
    for (let k = 0; slope < 0 && k < this.o.lineSearchTries; k++, t *= this.o.lineSearchShrink) {
      const f = lossAt(d, t, batch);
      if (f <= loss + this.o.armijo * t * slope) {
        return report({ accepted: true, lambda: this.lambda, rho, ...cgReport, stepSize: t, lossAfter: f });
      }
    }
    params.set(theta);
    return report({ lambda: this.lambda, rho, ...cgReport });
  }

  state(): { optimizer: string; lambda: number; steps: number; warmStart: number[] | null } {
    const warmStart = this.pendingWarm ?? (this.hasWarm && this.buffers !== null ? vectorToJson(this.buffers.warm) : null);
    return { optimizer: NAME, lambda: this.lambda, steps: this.steps, warmStart };
  }

  loadState(state: unknown): void {
    const s = readState(NAME, state);
    this.lambda = readNumber(NAME, s, 'lambda');
    this.steps = readNumber(NAME, s, 'steps');
    const warm = readVector(NAME, s, 'warmStart');
    this.hasWarm = warm !== null;
    this.pendingWarm = null;
    if (warm !== null && this.buffers !== null) restoreVector(NAME, 'warmStart', warm, this.buffers.warm);
    else if (warm !== null) this.pendingWarm = warm;
  }

  private ensureBuffers(params: FloatArray): Buffers {
    let b = this.buffers;
    if (b === null) {
      b = {
        cg: new ConjugateGradient(params),
        theta: like(params),
        grad: like(params),
        negGrad: like(params),
        precond: like(params),
        warm: like(params),
      };
      this.buffers = b;
    } else if (b.theta.length !== params.length || b.theta.constructor !== params.constructor) {
      throw new Error(
        `HessianFree: buffers were made for ${b.theta.length} parameters (${b.theta.constructor.name}); ` +
          `this model has ${params.length} (${params.constructor.name}); use one optimizer per model`,
      );
    }
    if (this.pendingWarm !== null) {
      restoreVector(NAME, 'warmStart', this.pendingWarm, b.warm);
      this.pendingWarm = null;
    }
    return b;
  }
}
