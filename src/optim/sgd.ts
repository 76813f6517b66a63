/**
 * Stochastic gradient descent: plain, classic momentum or Nesterov momentum, with weight decay
 * and a learning-rate schedule evaluated at the step count.
 *
 * With g the batch gradient, η_t the scheduled rate and μ the momentum (Sutskever et al. 2013,
 * in the "velocity is a displacement" form, so a change of η_t affects only new gradients):
 *   plain:     θ ← θ − η_t g
 *   classic:   v ← μ v − η_t g;  θ ← θ + v
 *   Nesterov:  v ← μ v − η_t g;  θ ← θ + μ v − η_t g   (the look-ahead form of Bengio et al. 2012:
 *              θ stores the look-ahead point, so the gradient is taken where Nesterov takes it)
 * Weight decay wd, two kinds:
 *   'decoupled' (default; SGDW, Loshchilov & Hutter 2019): θ ← θ − η_t·wd·θ_old, applied beside the
 *              update above and never passing through the momentum;
 *   'l2':      g ← g + wd·θ before the update: the gradient of f + ½ wd ‖θ‖², so momentum carries it.
 * Both shrink a weight with zero gradient by (1 − η_t·wd) per step without momentum; with momentum
 * 'l2' shrinks it faster, because the decay accumulates in v.
 * With `clipNorm` c, g is first scaled to norm ≤ c (clip.ts, torch.nn.utils.clip_grad_norm_).
 */
import { dtypeOf, type FloatArray } from '../nd/dtype.js';
import type { AsyncModel, Batch, Model } from '../nd/model.js';
import { allFinite, like } from '../nd/vec.js';
import {
  readCount,
  readState,
  readVector,
  restoreVector,
  vectorToJson,
  type Optimizer,
  type StepReport,
} from './optimizer.js';
import { clipGradNorm, validateClip } from './clip.js';
import { learningRate, validateSchedule, type Schedule } from './schedules.js';

export type MomentumKind = 'none' | 'classic' | 'nesterov';
export type WeightDecayKind = 'decoupled' | 'l2';

export interface SgdOptions {
  /** A constant rate or a schedule; default 0.01. */
  lr?: number | Schedule;
  /** μ; default 0.9 when `momentum` is classic or nesterov. */
  mu?: number;
  /** Default 'none' (plain SGD). */
  momentum?: MomentumKind;
  /** wd; default 0. */
  weightDecay?: number;
  /** Default 'decoupled'. */
  weightDecayKind?: WeightDecayKind;
  /** Clip the gradient to this global L2 norm before the update; default none. */
  clipNorm?: number;
}

export interface SgdReport extends StepReport {
  /** η_t used by this step. */
  readonly lr: number;
  /** ‖g‖ before clipping, when clipping is on. */
  readonly gradNorm?: number;
}

const NAME = 'sgd';

export class Sgd implements Optimizer<SgdReport> {
  readonly name = NAME;
  private readonly schedule: Schedule;
  private readonly mu: number;
  private readonly momentum: MomentumKind;
  private readonly weightDecay: number;
  private readonly decayKind: WeightDecayKind;
  private readonly clipNorm: number | undefined;
  private steps = 0;
  private grad: FloatArray | null = null;
  private velocity: FloatArray | null = null;
  /** A velocity loaded by loadState before the first step has shown the model's dtype. */
  private pendingVelocity: number[] | null = null;

  constructor(options: SgdOptions = {}) {
    checkOptions(options);
    const lr = options.lr ?? 0.01;
    this.schedule = typeof lr === 'number' ? { kind: 'constant', lr } : lr;
    validateSchedule(this.schedule);
    this.momentum = options.momentum ?? 'none';
    this.mu = this.momentum === 'none' ? 0 : (options.mu ?? 0.9);
    this.weightDecay = options.weightDecay ?? 0;
    this.decayKind = options.weightDecayKind ?? 'decoupled';
    if (!(this.mu >= 0 && this.mu < 1)) throw new Error(`Sgd: mu must be in [0, 1), got ${this.mu}`);
    if (!(this.weightDecay >= 0)) throw new Error(`Sgd: weightDecay must be ≥ 0, got ${this.weightDecay}`);
    this.clipNorm = options.clipNorm;
    validateClip('Sgd', this.clipNorm);
  }

  step(model: Model, batch: Batch): SgdReport {
    const lr = this.begin(model);
    return this.update(model.params, model.gradient(batch, this.grad!), lr);
  }

  /** step() on a model whose gradient resolves later (a Network on WebGPU). */
  async stepAsync(model: AsyncModel, batch: Batch): Promise<SgdReport> {
    const lr = this.begin(model);
    return this.update(model.params, await model.gradientAsync(batch, this.grad!), lr);
  }

  /** The step's rate; counts the step and makes the buffers. */
  private begin(model: Model): number {
    this.buffers(model.params);
    return learningRate(this.schedule, this.steps++);
  }

  /** The update from the gradient in this.grad, whose batch loss is `loss`. */
  private update(theta: FloatArray, loss: number, lr: number): SgdReport {
    const { grad, velocity } = this.buffers(theta);
    // A non-finite gradient would poison θ (and v for good): skip the step, keep the counters.
    if (!Number.isFinite(loss) || !allFinite(grad)) return { loss, accepted: false, lr };
    const gradNorm = this.clipNorm === undefined ? undefined : clipGradNorm(grad, this.clipNorm);

    const wd = this.weightDecay;
    const l2 = this.decayKind === 'l2' ? wd : 0;
    const shrink = this.decayKind === 'decoupled' ? 1 - lr * wd : 1;
    const mu = this.mu;
    const n = theta.length;
    if (velocity === null) {
      for (let i = 0; i < n; i++) theta[i] = shrink * theta[i] - lr * (grad[i] + l2 * theta[i]);
    } else if (this.momentum === 'classic') {
      for (let i = 0; i < n; i++) {
        const v = mu * velocity[i] - lr * (grad[i] + l2 * theta[i]);
        velocity[i] = v;
        theta[i] = shrink * theta[i] + v;
      }
    } else {
      for (let i = 0; i < n; i++) {
        const g = grad[i] + l2 * theta[i];
        const v = mu * velocity[i] - lr * g;
        velocity[i] = v;
        theta[i] = shrink * theta[i] + mu * v - lr * g;
      }
    }
    return { loss, accepted: true, lr, ...(gradNorm === undefined ? {} : { gradNorm }) };
  }

  state(): { optimizer: string; steps: number; velocity: number[] | null } {
    return { optimizer: NAME, steps: this.steps, velocity: this.pendingVelocity ?? vectorToJson(this.velocity) };
  }

  loadState(state: unknown): void {
    const s = readState(NAME, state);
    this.steps = readCount(NAME, s, 'steps');
    const v = readVector(NAME, s, 'velocity');
    if ((v === null) !== (this.momentum === 'none')) {
      throw new Error(`${NAME}.loadState: velocity is ${v === null ? 'absent' : 'present'} but momentum is '${this.momentum}'`);
    }
    this.pendingVelocity = null;
    if (v !== null && this.velocity !== null) restoreVector(NAME, 'velocity', v, this.velocity);
    else if (v !== null) this.pendingVelocity = v;
  }

  private buffers(theta: FloatArray): { grad: FloatArray; velocity: FloatArray | null } {
    if (this.grad === null) {
      this.grad = like(theta);
      this.velocity = this.momentum === 'none' ? null : like(theta);
    } else if (this.grad.length !== theta.length || dtypeOf(this.grad) !== dtypeOf(theta)) {
      throw new Error(
        `Sgd: buffers were made for ${this.grad.length} ${dtypeOf(this.grad)} parameters; ` +
          `this model has ${theta.length} ${dtypeOf(theta)} (use one optimizer per model)`,
      );
    }
    if (this.pendingVelocity !== null && this.velocity !== null) {
      restoreVector(NAME, 'velocity', this.pendingVelocity, this.velocity);
      this.pendingVelocity = null;
    }
    return { grad: this.grad, velocity: this.velocity };
  }
}

const OPTION_KEYS: readonly (keyof SgdOptions)[] = ['lr', 'mu', 'momentum', 'weightDecay', 'weightDecayKind', 'clipNorm'];

/** What TypeScript would catch, for plain JavaScript: a misspelt key or kind would otherwise train with a default. */
function checkOptions(o: SgdOptions): void {
  if (typeof o !== 'object' || o === null) throw new TypeError(`Sgd: options must be an object, got ${String(o)}`);
  const unknown = Object.keys(o).filter((k) => !(OPTION_KEYS as string[]).includes(k));
  if (unknown.length > 0) throw new TypeError(`Sgd: unknown option ${unknown.map((k) => `'${k}'`).join(', ')} (known: ${OPTION_KEYS.join(', ')})`);
  if (o.momentum !== undefined && !['none', 'classic', 'nesterov'].includes(o.momentum)) {
    throw new TypeError(`Sgd: momentum must be 'none', 'classic' or 'nesterov', got ${JSON.stringify(o.momentum)}`);
  }
  if (o.weightDecayKind !== undefined && !['decoupled', 'l2'].includes(o.weightDecayKind)) {
    throw new TypeError(`Sgd: weightDecayKind must be 'decoupled' or 'l2', got ${JSON.stringify(o.weightDecayKind)}`);
  }
}
