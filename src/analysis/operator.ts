/**
 * The curvature operator of a model on a data set: A v = Σ_b (n_b / N) · A_b v over batches b of
 * n_b samples (N in all), where A_b is a curvature matrix of the batch's MEAN loss: the Hessian H,
 * the Gauss-Newton matrix G = Jᵀ H_L J, the Monte-Carlo Fisher F (G with H_L replaced by outer
 * products of gradients at targets sampled from the model, drawn once per batch: one fixed PSD
 * matrix whose expectation is G), or the empirical Fisher (1/n) Σ ∇ℓ_n ∇ℓ_nᵀ. That is exactly the
 * curvature of the mean loss over the whole data set (for F: a fixed draw of it), computed batch
 * by batch, so a data set of any size fits in memory.
 *
 * Each batch holds one `model.curvature(batch)` for the operator's life: the parameters are
 * captured when the operator is made, and a batch's forward pass is reused for every product as
 * long as no other forward pass ran in between. With ONE batch (the default when the data set
 * fits in `batchSize`) that means one forward pass for all products; with several, each product
 * recomputes each batch's forward pass (the model keeps only the latest one).
 * Products run in the model's precision; the mean is accumulated in float64.
 * On a model that reads back later (a Network on WebGPU) every batch's curvature is begun when
 * the operator is made (so the parameters are captured then too) and apply returns a Promise:
 * the solvers' *Async forms (topEigenpairsAsync, …) take such an operator.
 */
import { allocate, dtypeOf, type FloatArray } from '../nd/dtype.js';
import type { Maybe } from '../nd/later.js';
import { readsLater, sliceBatch, type AsyncCurvature, type Batch, type Curvature, type CurvatureSetup, type Model } from '../nd/model.js';

export type OperatorKind = 'hessian' | 'gauss-newton' | 'fisher' | 'empirical-fisher';

const PRODUCTS = { hessian: 'hv', 'gauss-newton': 'gv', fisher: 'fv', 'empirical-fisher': 'ev' } as const;

/** A symmetric linear map on flat vectors of length `dim`: what every solver here works on. */
export interface SymmetricOperator {
  readonly dim: number;
  /** out = A v (float64 in and out); an operator on a model that answers later returns a Promise. */
  apply(v: Float64Array, out: Float64Array): Maybe<void>;
}

export interface CurvatureOptions extends CurvatureSetup {
  /** 'hessian' (H, default), 'gauss-newton' (G), 'fisher' or 'empirical-fisher' (the last three positive semi-definite). */
  operator?: OperatorKind;
  /** Samples per product batch (default: all of them in one batch). */
  batchSize?: number;
}

export class CurvatureOperator implements SymmetricOperator {
  readonly dim: number;
  readonly kind: OperatorKind;
  /** Products computed so far (one per apply, whatever the number of batches). */
  products = 0;
  private readonly parts: { curvature: Curvature | Promise<AsyncCurvature>; weight: number }[] = [];
  private readonly later: boolean;
  private readonly vIn: FloatArray;
  private readonly vOut: FloatArray;

  constructor(model: Model, data: Batch, options: CurvatureOptions = {}) {
    this.kind = options.operator ?? 'hessian';
    if (!Object.prototype.hasOwnProperty.call(PRODUCTS, this.kind)) {
      throw new Error(`curvature operator: unknown operator '${String(this.kind)}' (known: ${Object.keys(PRODUCTS).join(', ')})`);
    }
    const batchSize = options.batchSize ?? data.n;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`curvature operator: batch size must be a positive integer, got ${batchSize}`);
    if (!Number.isInteger(data.n) || data.n < 1) throw new Error(`curvature operator: the data set holds no samples (n = ${data.n})`);
    this.dim = model.paramCount;
    this.later = readsLater(model);
    const setup: CurvatureSetup = { mode: options.mode, samples: options.samples, seed: options.seed };
    // The asynchronous passes (WebGPU) have training-mode H and G products only.
    if (this.later && (this.kind === 'fisher' || this.kind === 'empirical-fisher' || options.mode === 'eval')) {
      throw new Error(`curvature operator: '${this.kind}'${options.mode === 'eval' ? ' in evaluation mode' : ''} needs a backend that reads back synchronously (cpu or gpu); on this one H and G in training mode are available`);
    }
    for (let s = 0; s < data.n; s += batchSize) {
      const e = Math.min(data.n, s + batchSize);
      const b = sliceBatch(data, s, e);
      const curvature = readsLater(model) ? model.curvatureAsync(b) : model.curvature(b, setup);
      // A failure surfaces at the first product, which awaits it.
      if (curvature instanceof Promise) curvature.catch(() => {});
      else if (!curvature[PRODUCTS[this.kind]]) throw new Error(`curvature operator: this model has no '${this.kind}' products (Curvature.${PRODUCTS[this.kind]})`);
      this.parts.push({ curvature, weight: (e - s) / data.n });
    }
    const dtype = dtypeOf(model.params);
    this.vIn = allocate(dtype, this.dim);
    this.vOut = allocate(dtype, this.dim);
  }

  /** Batches each product runs over. */
  get batches(): number {
    return this.parts.length;
  }

  apply(v: Float64Array, out: Float64Array): Maybe<void> {
    if (v.length !== this.dim || out.length !== this.dim) {
      throw new Error(`curvature operator: vectors of length ${v.length} and ${out.length}, the model has ${this.dim} parameters`);
    }
    if (this.later) return this.applyLater(v, out);
    this.vIn.set(v);
    out.fill(0);
    const product = PRODUCTS[this.kind];
    for (const { curvature, weight } of this.parts) {
      (curvature as Curvature)[product]!(this.vIn, this.vOut);
      for (let i = 0; i < this.dim; i++) out[i] += weight * this.vOut[i];
    }
    this.products++;
  }

  private async applyLater(v: Float64Array, out: Float64Array): Promise<void> {
    this.vIn.set(v);
    out.fill(0);
    for (const { curvature, weight } of this.parts) {
      const c = await curvature;
      await (this.kind === 'hessian' ? c.hv(this.vIn, this.vOut) : c.gv(this.vIn, this.vOut));
      for (let i = 0; i < this.dim; i++) out[i] += weight * this.vOut[i];
    }
    this.products++;
  }
}
