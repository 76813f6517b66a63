/**
 * K-FAC (Martens & Grosse 2015; KFC for convolutions, Grosse & Martens 2016), in the practical
 * form of Ba, Grosse & Martens (2017): precondition the gradient with the damped inverse of the
 * Kronecker-factored Fisher, bound the step's predicted KL change, add momentum.
 *
 * Step t on a batch B (g the gradient of the mean batch loss, + κθ with weight decay κ):
 *  1. Every `factorEvery` steps the same forward pass also yields the batch's factors (A, G per
 *     layer; batch norm's 2×2 blocks) for `curvature` ('fisher': sampled targets, 'ggn' exact,
 *     'empirical'); the running estimates are Â ← ε Â + (1 − ε) A with ε = min(1 − 1/k, decay)
 *     at the k-th update (Martens & Grosse §5: early estimates are plain means).
 *  2. Every `inverseEvery` steps the running factors are copied and eigendecomposed; the steps
 *     in between reuse that decomposition (the factors keep moving underneath).
 *  3. Δ = (F̂ + λI)⁻¹ g with Tikhonov damping λ: 'factored' (G + γ/π I)⁻¹ ⊗ (A + πγ I)⁻¹,
 *     γ = √(λ + κ) (§6.3, the default), or 'exact' ((G ⊗ A + (λ + κ)I)⁻¹ in the eigenbasis).
 *  4. KL-clipping (Ba et al. §5): ν = min(1, √(c / (η² Δᵀg))), so that the step's quadratic
 *     KL estimate ½(ηνΔ)ᵀF̂(ηνΔ) ≈ ½η²ν²Δᵀg stays below c/2 (c = 0 disables it).
 *  5. Momentum: v ← μ v + ν Δ, θ ← θ − η_t v.
 * A non-finite loss or gradient skips the step (nothing changes but the step counter). The state
 * — counters, momentum, running factors and the factors the current inverse was taken from —
 * is saved whole, so a resumed run continues bit for bit (the eigendecomposition is
 * deterministic and recomputed from the saved factors).
 */
import { blendFactors, KroneckerOperator, type DampingKind } from '../analysis/kronecker.js';
import { dtypeOf, type FloatArray } from '../nd/dtype.js';
import type { Batch, FactorKind, KroneckerFactors, Model } from '../nd/model.js';
import { hash32 } from '../nd/rng.js';
import { allFinite, like } from '../nd/vec.js';
import { copyFactors, factorsFinite, factorsFromJson, factorsToJson } from './kfac-state.js';
import { readNumber, readState, readVector, type Optimizer, type StepReport } from './optimizer.js';
import { learningRate, validateSchedule, type Schedule } from './schedules.js';

export interface KfacOptions {
  /** η: a constant rate or a schedule; default 0.1. */
  lr?: number | Schedule;
  /** λ, the Tikhonov damping; default 1e-3. */
  damping?: number;
  /** 'factored' (default) or 'exact' damping (see the header). */
  dampingKind?: DampingKind;
  /** μ; default 0.9 (0 disables momentum). */
  momentum?: number;
  /** ε, the running factors' decay; default 0.95. */
  factorDecay?: number;
  /** Steps between factor updates; default 1. */
  factorEvery?: number;
  /** Steps between eigendecompositions of the running factors; default 20. */
  inverseEvery?: number;
  /** c of KL-clipping; default 1e-3 (0 disables it). */
  klClip?: number;
  /** L2 weight decay κ (added to g and to the damping); default 0. */
  weightDecay?: number;
  /** Which curvature the factors approximate; default 'fisher'. */
  curvature?: FactorKind;
  /** Seed of the sampled targets (each step draws with hash(seed, step)); default 1. */
  seed?: number;
}

export interface KfacReport extends StepReport {
  readonly lr: number;
  /** The KL-clipping factor ν (1 when the step was not clipped). */
  readonly nu: number;
  /** Whether this step refreshed the factors / the inverse. */
  readonly factors: boolean;
  readonly inverse: boolean;
}

const NAME = 'kfac';
const OPTION_KEYS: readonly (keyof KfacOptions)[] = [
  'lr', 'damping', 'dampingKind', 'momentum', 'factorDecay', 'factorEvery', 'inverseEvery', 'klClip', 'weightDecay', 'curvature', 'seed',
];

export class Kfac implements Optimizer<KfacReport> {
  readonly name = NAME;
  private readonly o: Required<Omit<KfacOptions, 'lr'>>;
  private readonly schedule: Schedule;
  private steps = 0;
  /** Factor updates so far (the k of ε = min(1 − 1/k, decay)). */
  private updates = 0;
  private running: KroneckerFactors | null = null;
  /** The operator whose eigendecomposition preconditions, from a copy of `running`. */
  private inverse: KroneckerOperator | null = null;
  private grad: FloatArray | null = null;
  private delta: Float64Array | null = null;
  private velocity: Float64Array | null = null;

  constructor(options: KfacOptions = {}) {
    if (typeof options !== 'object' || options === null) throw new TypeError(`Kfac: options must be an object, got ${String(options)}`);
    const unknown = Object.keys(options).filter((k) => !(OPTION_KEYS as string[]).includes(k));
    if (unknown.length > 0) throw new TypeError(`Kfac: unknown option ${unknown.map((k) => `'${k}'`).join(', ')} (known: ${OPTION_KEYS.join(', ')})`);
    const lr = options.lr ?? 0.1;
    this.schedule = typeof lr === 'number' ? { kind: 'constant', lr } : lr;
    validateSchedule(this.schedule);
    this.o = {
      damping: 1e-3, dampingKind: 'factored', momentum: 0.9, factorDecay: 0.95, factorEvery: 1, inverseEvery: 20, klClip: 1e-3,
      weightDecay: 0, curvature: 'fisher', seed: 1, ...stripUndefined(options),
    };
    const o = this.o;
    if (!(o.damping > 0 && Number.isFinite(o.damping))) throw new RangeError(`Kfac: damping must be a positive number, got ${o.damping}`);
    if (o.dampingKind !== 'factored' && o.dampingKind !== 'exact') throw new TypeError(`Kfac: dampingKind must be 'factored' or 'exact', got ${JSON.stringify(o.dampingKind)}`);
    if (!(o.momentum >= 0 && o.momentum < 1)) throw new RangeError(`Kfac: momentum must be in [0, 1), got ${o.momentum}`);
    if (!(o.factorDecay >= 0 && o.factorDecay < 1)) throw new RangeError(`Kfac: factorDecay must be in [0, 1), got ${o.factorDecay}`);
    for (const k of ['factorEvery', 'inverseEvery'] as const) {
      if (!(Number.isInteger(o[k]) && o[k] >= 1)) throw new RangeError(`Kfac: ${k} must be a positive integer, got ${o[k]}`);
    }
    if (!(o.klClip >= 0 && Number.isFinite(o.klClip))) throw new RangeError(`Kfac: klClip must be a number ≥ 0, got ${o.klClip}`);
    if (!(o.weightDecay >= 0)) throw new RangeError(`Kfac: weightDecay must be ≥ 0, got ${o.weightDecay}`);
    if (!['fisher', 'ggn', 'empirical'].includes(o.curvature)) throw new TypeError(`Kfac: curvature must be 'fisher', 'ggn' or 'empirical', got ${JSON.stringify(o.curvature)}`);
    if (!Number.isInteger(o.seed)) throw new TypeError(`Kfac: seed must be an integer, got ${o.seed}`);
  }

  step(model: Model, batch: Batch): KfacReport {
    if (!model.kroneckerFactors) throw new Error('Kfac: the model has no Kronecker factors (kroneckerFactors); K-FAC needs a Network');
    const theta = model.params;
    const { grad, delta, velocity } = this.buffers(theta);
    const lr = learningRate(this.schedule, this.steps);
    const t = this.steps++;
    const refreshFactors = this.running === null || t % this.o.factorEvery === 0;
    let loss: number;
    let fresh: KroneckerFactors | null = null;
    if (refreshFactors) {
      ({ loss, factors: fresh } = model.kroneckerFactors(batch, { kind: this.o.curvature, seed: hash32(this.o.seed, t) }, grad));
    } else {
      loss = model.gradient(batch, grad);
    }
    const skip = (): KfacReport => ({ loss, accepted: false, lr, nu: 0, factors: false, inverse: false });
    if (!Number.isFinite(loss) || !allFinite(grad)) return skip();
    if (fresh) {
      if (!factorsFinite(fresh)) return skip();
      this.updates++;
      if (this.running === null) this.running = fresh;
      else blendFactors(this.running, fresh, Math.min(1 - 1 / this.updates, this.o.factorDecay));
    }
    const refreshInverse = this.inverse === null || t % this.o.inverseEvery === 0;
    if (refreshInverse) this.invert();

    const kappa = this.o.weightDecay;
    if (kappa > 0) for (let i = 0; i < grad.length; i++) grad[i] += kappa * theta[i];
    this.inverse!.solve(grad, delta, this.o.damping + kappa, this.o.dampingKind);
    let vg = 0;
    for (let i = 0; i < delta.length; i++) vg += delta[i] * grad[i];
    const nu = this.o.klClip > 0 && vg > 0 ? Math.min(1, Math.sqrt(this.o.klClip / (lr * lr * vg))) : 1;
    const mu = this.o.momentum;
    for (let i = 0; i < theta.length; i++) {
      const v = (velocity[i] = mu * velocity[i] + nu * delta[i]);
      theta[i] -= lr * v;
    }
    return { loss, accepted: true, lr, nu, factors: fresh !== null, inverse: refreshInverse };
  }

  /** Eigendecomposes a copy of the running factors (the running ones keep blending). */
  private invert(): void {
    this.inverse = new KroneckerOperator(copyFactors(this.running!), this.delta!.length);
    this.inverse.eigendecompose();
  }

  state(): unknown {
    return {
      optimizer: NAME,
      steps: this.steps,
      updates: this.updates,
      velocity: this.velocity ? Array.from(this.velocity) : null,
      running: this.running && factorsToJson(this.running),
      inverted: this.inverse && factorsToJson(this.inverse.factors),
    };
  }

  loadState(state: unknown): void {
    const s = readState(NAME, state);
    const steps = readNumber(NAME, s, 'steps');
    const updates = readNumber(NAME, s, 'updates');
    for (const [k, v] of [['steps', steps], ['updates', updates]] as const) {
      if (!Number.isInteger(v) || v < 0) throw new Error(`${NAME}.loadState: '${k}' must be a whole number ≥ 0, got ${v}`);
    }
    const velocity = readVector(NAME, s, 'velocity');
    const running = s.running === null || s.running === undefined ? null : factorsFromJson(s.running, 'running');
    const inverted = s.inverted === null || s.inverted === undefined ? null : factorsFromJson(s.inverted, 'inverted');
    if ((running === null) !== (inverted === null) || (velocity === null) !== (running === null)) {
      throw new Error(`${NAME}.loadState: 'velocity', 'running' and 'inverted' must all be present (after a step) or all null`);
    }
    this.steps = steps;
    this.updates = updates;
    this.running = running;
    this.velocity = velocity && Float64Array.from(velocity);
    this.delta = velocity && new Float64Array(velocity.length);
    this.grad = null;
    this.inverse = inverted && new KroneckerOperator(inverted, velocity!.length);
    this.inverse?.eigendecompose();
  }

  private buffers(theta: FloatArray): { grad: FloatArray; delta: Float64Array; velocity: Float64Array } {
    if (this.velocity !== null && this.velocity.length !== theta.length) {
      throw new Error(`${NAME}: state was made for ${this.velocity.length} parameters; this model has ${theta.length} (use one optimizer per model)`);
    }
    if (this.grad === null || dtypeOf(this.grad) !== dtypeOf(theta)) this.grad = like(theta);
    this.velocity ??= new Float64Array(theta.length);
    this.delta ??= new Float64Array(theta.length);
    return { grad: this.grad, delta: this.delta, velocity: this.velocity };
  }
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
