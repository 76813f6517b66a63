/**
 * Hessian-free optimisation (Martens 2010, "Deep learning via Hessian-free optimization").
 *
 * One step on a gradient batch B with curvature batch C (the first `curvatureBatch` samples of B,
 * or a batch the caller passes):
 *  1. g = ∇f(θ) on B.  With weight cost κ: f ← f + ½κ‖θ‖², g ← g + κθ, G ← G + κI.
 *  2. Solve (G + λI) d = −g by preconditioned CG (cg.ts), G the Gauss-Newton matrix on C, warm
 *     started from 0.95 × the previous solve's last iterate, preconditioner
 *     'diagonal' M = (diag(Σ gᵢ²) + λ + κ)^ξ, ξ = 3/4 (Martens §4.7; the Model gives Σ gᵢ² on C),
 *     or 'kfac' M = F̂ + (λ + κ)I, F̂ the K-FAC Fisher of B (one sampled-target backward pass
 *     beside the gradient's, seeded by the step count), inverted exactly in its factors'
 *     eigenbasis: the curvature across each layer's weights, which a diagonal cannot see.
 *  3. CG backtracking (§4.6): from the last kept iterate, walk back while the loss on C improves.
 *  4. Reduction ratio on C: ρ = (f(θ+d) − f(θ)) / (q(d) − q(0)), q the *undamped* quadratic model
 *     q(d) − q(0) = gᵀd + ½dᵀ(G + κI)d = φ(d) − ½λ‖d‖² (φ, the damped CG objective, is tracked by CG).
 *     Levenberg-Marquardt (§4.1): ρ < 1/4 → λ·3/2; ρ > 3/4 → λ·2/3, kept in [10⁻¹⁰, 10¹⁰].
 *  5. Armijo line search on B: the largest t ∈ {1, 0.8, 0.8², ...} (20 tries) with
 *     f(θ + t d) ≤ f(θ) + c·t·gᵀd, c = 10⁻²; none found → no step.
 * A candidate whose loss is NaN/Inf is never taken: if every kept iterate is non-finite, the step
 * is rejected, λ raised by 3/2 and the warm start reset. The parameters stay finite: they are
 * either restored to θ bit for bit or set to a θ + t·d whose loss was finite.
 */
import type { FloatArray } from '../nd/dtype.js';
import { modelSteps, runLater, runNow, type Later, type ModelSteps } from '../nd/later.js';
import { readsLater, sliceBatch, type AsyncModel, type Batch, type KroneckerFactors, type Model } from '../nd/model.js';
import { allFinite, dot, like } from '../nd/vec.js';
import { KroneckerOperator } from '../analysis/kronecker.js';
import { hash32 } from '../nd/rng.js';
import { ConjugateGradient, MARTENS_EPSILON, type CgProblem, type CgResult, type CgStop } from './cg.js';
import { factorsFinite } from './kfac-state.js';
import {
  readCount,
  readNumber,
  readState,
  readVector,
  restoreVector,
  vectorToJson,
  type Optimizer,
  type StepReport,
} from './optimizer.js';

export interface HfOptions {
  /** Initial damping λ₀ in [LAMBDA_MIN, LAMBDA_MAX]; default 1. */
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
  /** CG's preconditioner, 'diagonal' (default) or 'kfac' (see the header; needs a Network). */
  preconditioner?: HfPreconditioner;
  /** L2 weight cost κ on every parameter (the Model has no bias mask); default 0. */
  weightCost?: number;
  /** Armijo constant c; default 1e-2. */
  armijo?: number;
  /** Step-length factor per line-search try; default 0.8. */
  lineSearchShrink?: number;
  /** Line-search tries before giving up the step; default 20. */
  lineSearchTries?: number;
}

export type HfPreconditioner = 'diagonal' | 'kfac';

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
/** Seeds the 'kfac' preconditioner's sampled targets: hash(KFAC_SEED, step). */
const KFAC_SEED = 0x4846;
const DAMPING_UP = 3 / 2;
const DAMPING_DOWN = 2 / 3;

/**
 * The range λ is kept in. Above 1e10 a step is −g/λ: on float32 parameters it is smaller than
 * their rounding for any gradient below ~10, so more damping cannot make a step acceptable;
 * it could only overflow to Infinity (λ·3/2 past Number.MAX_VALUE), where CG computes NaN and
 * λ·2/3 never comes back. Below 1e-10, λ adds less than float32 rounding to any curvature
 * entry above ~1e-3, while λ → 0 leaves the Gauss-Newton matrix only semi-definite (CG then
 * divides by zero curvature). From either bound λ moves by 3/2 or 2/3 per step as usual.
 */
export const LAMBDA_MIN = 1e-10;
export const LAMBDA_MAX = 1e10;

function bounded(lambda: number): number {
  return Math.min(LAMBDA_MAX, Math.max(LAMBDA_MIN, lambda));
}

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
      preconditioner: 'diagonal',
      weightCost: 0,
      armijo: 1e-2,
      lineSearchShrink: 0.8,
      lineSearchTries: 20,
      ...options,
    };
    const o = this.o;
    if (!(o.lambda >= LAMBDA_MIN && o.lambda <= LAMBDA_MAX)) {
      throw new RangeError(`HessianFree: lambda (the initial damping) must be in [${LAMBDA_MIN}, ${LAMBDA_MAX}], got ${o.lambda}`);
    }
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
    if (o.preconditioner !== 'diagonal' && o.preconditioner !== 'kfac') {
      throw new Error(`HessianFree: preconditioner must be 'diagonal' or 'kfac', got ${JSON.stringify(o.preconditioner)}`);
    }
    this.lambda = o.lambda;
  }

  /** One HF step on `batch`; curvature on `curvatureBatch` when given, else on the batch's head. */
  step(model: Model, batch: Batch, curvatureBatch?: Batch): HfReport {
    return runNow(this.run(modelSteps(model), batch, curvatureBatch), 'HessianFree.step');
  }

  /**
   * step() on a model whose passes resolve later (a Network on WebGPU): the same arithmetic on
   * the host, each pass awaited; CG's products and dot products run as on the CPU.
   */
  stepAsync(model: AsyncModel, batch: Batch, curvatureBatch?: Batch): Promise<HfReport> {
    return runLater(this.run(modelSteps(model), batch, curvatureBatch));
  }

  private *run(m: ModelSteps, batch: Batch, curvatureBatch?: Batch): Later<HfReport> {
    const model = m.model;
    const b = this.ensureBuffers(model.params);
    const { theta, grad, negGrad } = b;
    const params = model.params;
    const cb = curvatureBatch ?? sliceBatch(batch, 0, Math.min(batch.n, this.o.curvatureBatch));
    this.steps++;

    // §1: the objective and its gradient on B (with K-FAC's factors from the same forward pass).
    let factors: KroneckerFactors | null = null;
    let loss: number;
    if (this.o.preconditioner === 'kfac') {
      if (!model.kroneckerFactors) throw new Error("HessianFree: preconditioner 'kfac' needs a model with Kronecker factors (a Network)");
      if (readsLater(model)) throw new Error("HessianFree: preconditioner 'kfac' needs a backend that reads back synchronously (K-FAC's factors do); use the diagonal preconditioner on this backend");
      ({ loss, factors } = model.kroneckerFactors(batch, { kind: 'fisher', seed: hash32(KFAC_SEED, this.steps) }, grad));
    } else {
      loss = yield* m.gradient(batch, grad);
    }
    loss += this.weightCost(params);
    const kappa = this.o.weightCost;
    if (kappa > 0) for (let i = 0; i < grad.length; i++) grad[i] += kappa * params[i];
    const report = (r: Partial<HfReport>): HfReport => ({
      loss, accepted: false, lambda: this.lambda, rho: NaN, cgIterations: 0, cgStop: 'max-iterations',
      cgChosen: 0, stepSize: 0, lossAfter: loss, ...r,
    });
    // Nothing to solve from a non-finite point; the caller's parameters are left as they are.
    if (!Number.isFinite(loss) || !allFinite(grad) || (factors !== null && !factorsFinite(factors))) return report({});
    theta.set(params);
    for (let i = 0; i < grad.length; i++) negGrad[i] = -grad[i];

    const lambda = this.lambda;
    const result = yield* this.solve(m, cb, b, lambda, factors);
    const cgReport = (chosen: number) => ({ cgIterations: result.iterations, cgStop: result.stop, cgChosen: chosen });
    const { chosen, f: fChosen } = yield* this.backtrack(m, cb, theta, result.iterates);
    const { x: d, iteration, phi } = result.iterates[chosen];
    params.set(theta);
    if (fChosen === Infinity) {
      // Every candidate blew up: reject, damp harder, and do not warm start from this solve.
      this.lambda = bounded(lambda * DAMPING_UP);
      this.hasWarm = false;
      return report({ lambda: this.lambda, ...cgReport(iteration) });
    }
    const rho = yield* this.updateDamping(m, cb, lambda, d, phi, fChosen);
    const t = yield* this.lineSearch(m, batch, theta, d, dot(grad, d), loss);
    if (t === null) {
      params.set(theta);
      return report({ lambda: this.lambda, rho, ...cgReport(iteration) });
    }
    return report({ accepted: true, lambda: this.lambda, rho, ...cgReport(iteration), stepSize: t.t, lossAfter: t.f });
  }

  /**
   * §2: (G + λI + κI) d = −g by preconditioned CG, warm started; keeps the decayed last iterate
   * (not the backtracked one, as Martens does) as the next warm start.
   * Σ gᵢ² and the curvature object are computed before any other pass on C, because a model
   * may keep the curvature's forward pass in buffers that later loss evaluations overwrite.
   */
  private *solve(m: ModelSteps, cb: Batch, b: Buffers, lambda: number, factors: KroneckerFactors | null): Later<CgResult> {
    const { negGrad, precond, warm } = b;
    const shift = lambda + this.o.weightCost;
    const xi = this.o.preconditionerExponent;
    let preconditioner: CgProblem['preconditioner'];
    if (factors !== null) {
      const kfac = new KroneckerOperator(factors, precond.length);
      preconditioner = (r, z) => kfac.solve(r, z, shift, 'exact');
    } else if (xi !== 0) {
      yield* m.sumSquaredGradients(cb, precond);
      for (let i = 0; i < precond.length; i++) precond[i] = (precond[i] + shift) ** -xi;
      preconditioner = allFinite(precond) ? precond : undefined;
    }
    const curvature = yield* m.curvature(cb);
    const result = yield* b.cg.steps(
      {
        apply: function* (v: FloatArray, out: FloatArray) {
          yield* curvature.gv(v, out);
          for (let i = 0; i < out.length; i++) out[i] += shift * v[i];
        },
        b: negGrad,
        x0: this.hasWarm ? warm : undefined,
        preconditioner,
      },
      { maxIterations: this.o.maxCgIterations, tolerance: this.o.cgTolerance },
    );
    const last = result.iterates[result.iterates.length - 1];
    this.hasWarm = this.o.warmStartDecay > 0 && allFinite(last.x);
    if (this.hasWarm) for (let i = 0; i < warm.length; i++) warm[i] = this.o.warmStartDecay * last.x[i];
    return result;
  }

  /**
   * §3, CG backtracking on C (Martens §4.6): from the last iterate, walk back while the loss
   * improves. Returns the chosen iterate's index and loss (Infinity when none is finite).
   */
  private *backtrack(m: ModelSteps, cb: Batch, theta: FloatArray, iterates: CgResult['iterates']): Later<{ chosen: number; f: number }> {
    let chosen = iterates.length - 1;
    let f = yield* this.lossAt(m, theta, iterates[chosen].x, 1, cb);
    while (chosen > 0) {
      const g = yield* this.lossAt(m, theta, iterates[chosen - 1].x, 1, cb);
      if (!(g < f)) break;
      chosen--;
      f = g;
    }
    return { chosen, f };
  }

  /**
   * §4, Levenberg-Marquardt damping (Martens §4.1) from the reduction ratio on C with the
   * undamped model q(d) − q(0) = φ(d) − ½λ‖d‖²; an undefined ρ (NaN) counts as bad. Expects
   * the parameters at θ; returns ρ.
   */
  private *updateDamping(m: ModelSteps, cb: Batch, lambda: number, d: FloatArray, phi: number, fChosen: number): Later<number> {
    const predicted = phi - 0.5 * lambda * dot(d, d);
    const rho = predicted < 0 ? (fChosen - (yield* this.objective(m, cb))) / predicted : NaN;
    if (!(rho >= 0.25)) this.lambda = bounded(lambda * DAMPING_UP);
    else if (rho > 0.75) this.lambda = bounded(lambda * DAMPING_DOWN);
    return rho;
  }

  /**
   * §5, Armijo line search on B: the first t = 1, 0.8, 0.8², ... with f(θ + t d) ≤ f(θ) + c·t·gᵀd.
   * Leaves the parameters at θ + t·d and returns t and that loss, or null (parameters then dirty).
   */
  private *lineSearch(m: ModelSteps, batch: Batch, theta: FloatArray, d: FloatArray, slope: number, loss: number): Later<{ t: number; f: number } | null> {
    let t = 1;
    for (let k = 0; slope < 0 && k < this.o.lineSearchTries; k++, t *= this.o.lineSearchShrink) {
      const f = yield* this.lossAt(m, theta, d, t, batch);
      if (f <= loss + this.o.armijo * t * slope) return { t, f };
    }
    return null;
  }

  /** ½κ‖θ‖² (0 without weight cost). */
  private weightCost(params: FloatArray): number {
    return this.o.weightCost > 0 ? 0.5 * this.o.weightCost * dot(params, params) : 0;
  }

  /** The objective at the model's current parameters; Infinity when it or they are not finite. */
  private *objective(m: ModelSteps, on: Batch): Later<number> {
    const f = (yield* m.loss(on)) + this.weightCost(m.model.params);
    return Number.isFinite(f) && allFinite(m.model.params) ? f : Infinity;
  }

  /** Sets the parameters to θ + t·d and returns the objective there. */
  private *lossAt(m: ModelSteps, theta: FloatArray, d: FloatArray, t: number, on: Batch): Later<number> {
    const params = m.model.params;
    for (let i = 0; i < params.length; i++) params[i] = theta[i] + t * d[i];
    return yield* this.objective(m, on);
  }

  state(): { optimizer: string; lambda: number; steps: number; warmStart: number[] | null } {
    const warmStart = this.pendingWarm ?? (this.hasWarm && this.buffers !== null ? vectorToJson(this.buffers.warm) : null);
    return { optimizer: NAME, lambda: this.lambda, steps: this.steps, warmStart };
  }

  loadState(state: unknown): void {
    const s = readState(NAME, state);
    const lambda = readNumber(NAME, s, 'lambda');
    if (!(lambda >= LAMBDA_MIN && lambda <= LAMBDA_MAX)) {
      throw new RangeError(`${NAME}.loadState: lambda ${lambda} is outside [${LAMBDA_MIN}, ${LAMBDA_MAX}]`);
    }
    this.lambda = lambda;
    this.steps = readCount(NAME, s, 'steps');
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
