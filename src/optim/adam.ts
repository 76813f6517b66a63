/**
 * Adam and AdamW (Kingma & Ba 2015; Loshchilov & Hutter 2019), step for step as PyTorch's
 * torch.optim.Adam / AdamW (single-tensor path, 1.13). With g the batch gradient (clipped first
 * when `clipNorm` is set), t the number of this step (1, 2, ...) and η_t the scheduled rate:
 *   Adam  (L2):        g ← g + wd·θ                       (the decay passes through the moments)
 *   AdamW (decoupled): θ ← θ·(1 − η_t·wd)                 (beside the update, never through m, v)
 *   m ← β₁m + (1 − β₁)g,   v ← β₂v + (1 − β₂)g²
 *   θ ← θ − (η_t / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)   (bias-corrected moments)
 * The state (t, m, v) is saved as JSON like SGD's velocity, so a resumed run continues exactly.
 */
import { dtypeOf, type FloatArray } from '../nd/dtype.js';
import type { AsyncModel, Batch, Model } from '../nd/model.js';
import { allFinite, like } from '../nd/vec.js';
import { clipGradNorm, validateClip } from './clip.js';
import { readCount, readState, readVector, restoreVector, vectorToJson, type Optimizer } from './optimizer.js';
import { learningRate, validateSchedule, type Schedule } from './schedules.js';
import type { SgdReport } from './sgd.js';

export interface AdamOptions {
  /** A constant rate or a schedule; default 0.001. */
  lr?: number | Schedule;
  /** [β₁, β₂]; default [0.9, 0.999]. */
  betas?: [number, number];
  /** Default 1e-8. */
  eps?: number;
  /** wd: L2 for Adam (default 0), decoupled for AdamW (default 0.01), PyTorch's defaults. */
  weightDecay?: number;
  /** Clip the gradient to this global L2 norm before the update; default none. */
  clipNorm?: number;
}

const OPTION_KEYS: readonly (keyof AdamOptions)[] = ['lr', 'betas', 'eps', 'weightDecay', 'clipNorm'];

interface Moments {
  m: FloatArray;
  v: FloatArray;
}

export class Adam implements Optimizer<SgdReport> {
  readonly name: 'adam' | 'adamw';
  private readonly schedule: Schedule;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  private readonly weightDecay: number;
  private readonly clipNorm: number | undefined;
  /** Updates taken (PyTorch's state['step']): the t of the bias corrections and the schedule's step. */
  private steps = 0;
  private grad: FloatArray | null = null;
  private moments: Moments | null = null;
  /** Moments loaded before the first step has shown the model's dtype. */
  private pending: { m: number[]; v: number[] } | null = null;

  constructor(
    options: AdamOptions = {},
    /** Decoupled weight decay (AdamW) instead of L2 (Adam). */
    private readonly decoupled = false,
  ) {
    this.name = decoupled ? 'adamw' : 'adam';
    const who = decoupled ? 'AdamW' : 'Adam';
    // What TypeScript would catch, for plain JavaScript: a misspelt key would otherwise train with a default.
    if (typeof options !== 'object' || options === null) throw new TypeError(`${who}: options must be an object, got ${String(options)}`);
    const unknown = Object.keys(options).filter((k) => !(OPTION_KEYS as string[]).includes(k));
    if (unknown.length > 0) throw new TypeError(`${who}: unknown option ${unknown.map((k) => `'${k}'`).join(', ')} (known: ${OPTION_KEYS.join(', ')})`);
    const lr = options.lr ?? 0.001;
    this.schedule = typeof lr === 'number' ? { kind: 'constant', lr } : lr;
    validateSchedule(this.schedule);
    [this.beta1, this.beta2] = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? (decoupled ? 0.01 : 0);
    this.clipNorm = options.clipNorm;
    for (const [what, b] of [['betas[0]', this.beta1], ['betas[1]', this.beta2]] as const) {
      if (!(b >= 0 && b < 1)) throw new Error(`${who}: ${what} must be in [0, 1), got ${b}`);
    }
    if (!(this.eps > 0)) throw new Error(`${who}: eps must be > 0, got ${this.eps}`);
    if (!(this.weightDecay >= 0)) throw new Error(`${who}: weightDecay must be ≥ 0, got ${this.weightDecay}`);
    validateClip(who, this.clipNorm);
  }

  step(model: Model, batch: Batch): SgdReport {
    const { grad } = this.buffers(model.params);
    return this.update(model.params, model.gradient(batch, grad));
  }

  /** step() on a model whose gradient resolves later (a Network on WebGPU). */
  async stepAsync(model: AsyncModel, batch: Batch): Promise<SgdReport> {
    const { grad } = this.buffers(model.params);
    return this.update(model.params, await model.gradientAsync(batch, grad));
  }

  /** The update from the gradient in the grad buffer, whose batch loss is `loss`. */
  private update(theta: FloatArray, loss: number): SgdReport {
    const { grad, m, v } = this.buffers(theta);
    const lr = learningRate(this.schedule, this.steps);
    // A non-finite gradient would poison θ and both moments for good: skip the step entirely.
    if (!Number.isFinite(loss) || !allFinite(grad)) return { loss, accepted: false, lr };
    const gradNorm = this.clipNorm === undefined ? undefined : clipGradNorm(grad, this.clipNorm);
    const t = ++this.steps;
    const [b1, b2, eps, wd] = [this.beta1, this.beta2, this.eps, this.weightDecay];
    const stepSize = lr / (1 - b1 ** t);
    const bc2Sqrt = Math.sqrt(1 - b2 ** t);
    const l2 = this.decoupled ? 0 : wd;
    const shrink = this.decoupled ? 1 - lr * wd : 1;
    for (let i = 0; i < theta.length; i++) {
      const g = grad[i] + l2 * theta[i];
      const mi = (m[i] = m[i] * b1 + (1 - b1) * g);
      const vi = (v[i] = v[i] * b2 + (1 - b2) * g * g);
      theta[i] = theta[i] * shrink - stepSize * (mi / (Math.sqrt(vi) / bc2Sqrt + eps));
    }
    return { loss, accepted: true, lr, ...(gradNorm === undefined ? {} : { gradNorm }) };
  }

  state(): { optimizer: string; steps: number; m: number[] | null; v: number[] | null } {
    if (this.pending) return { optimizer: this.name, steps: this.steps, ...this.pending };
    return { optimizer: this.name, steps: this.steps, m: vectorToJson(this.moments?.m ?? null), v: vectorToJson(this.moments?.v ?? null) };
  }

  loadState(state: unknown): void {
    const s = readState(this.name, state);
    const steps = readCount(this.name, s, 'steps');
    const m = readVector(this.name, s, 'm');
    const v = readVector(this.name, s, 'v');
    if ((m === null) !== (v === null) || (m !== null && m.length !== v!.length)) {
      throw new Error(`${this.name}.loadState: 'm' and 'v' must both be present with equal lengths, or both null`);
    }
    // √v̂ divides the step: a negative second moment would turn the parameters into NaN.
    const negative = v?.findIndex((x) => x < 0) ?? -1;
    if (negative >= 0) throw new Error(`${this.name}.loadState: 'v' holds ${v![negative]} at element ${negative}; a second moment is never negative`);
    this.steps = steps;
    this.pending = null;
    if (m === null) {
      this.moments?.m.fill(0);
      this.moments?.v.fill(0);
    } else if (this.moments) {
      restoreVector(this.name, 'm', m, this.moments.m);
      restoreVector(this.name, 'v', v!, this.moments.v);
    } else {
      this.pending = { m, v: v! };
    }
  }

  private buffers(theta: FloatArray): { grad: FloatArray } & Moments {
    if (this.grad === null || this.moments === null) {
      this.grad = like(theta);
      this.moments = { m: like(theta), v: like(theta) };
    } else if (this.grad.length !== theta.length || dtypeOf(this.grad) !== dtypeOf(theta)) {
      throw new Error(
        `${this.name}: buffers were made for ${this.grad.length} ${dtypeOf(this.grad)} parameters; ` +
          `this model has ${theta.length} ${dtypeOf(theta)} (use one optimizer per model)`,
      );
    }
    if (this.pending) {
      restoreVector(this.name, 'm', this.pending.m, this.moments.m);
      restoreVector(this.name, 'v', this.pending.v, this.moments.v);
      this.pending = null;
    }
    return { grad: this.grad, ...this.moments };
  }
}

/** AdamW: Adam with decoupled weight decay (PyTorch's default wd 0.01). */
export class AdamW extends Adam {
  constructor(options: AdamOptions = {}) {
    super(options, true);
  }
}
