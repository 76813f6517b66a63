/**
 * What optimizers see of a model: one flat parameter vector and functions of it on a batch.
 * Optimizers know no layer; a Network implements this.
 */
import type { FloatArray } from './dtype.js';

/** n samples: inputs flattened row-major per sample, targets as class labels or values. */
export interface Batch {
  readonly x: FloatArray;
  readonly y: Int32Array | FloatArray;
  readonly n: number;
}

/** A batch as library users may give one: array-likes of numbers, converted where needed. */
export interface BatchLike {
  readonly x: ArrayLike<number>;
  readonly y: ArrayLike<number>;
  readonly n: number;
}

/** Curvature products at fixed parameters and batch; the forward pass is computed once. */
export interface Curvature {
  /** out = G v, the Gauss-Newton matrix of the batch loss times v. */
  gv(v: FloatArray, out: FloatArray): void;
  /** out = H v, the exact Hessian of the batch loss times v. */
  hv(v: FloatArray, out: FloatArray): void;
  /**
   * out = F v, the Monte-Carlo Fisher: G with the loss Hessian replaced by outer products of the
   * gradients at targets sampled from the model (drawn once, so F is one fixed matrix).
   * Optional: a model without it has no Fisher operator.
   */
  fv?(v: FloatArray, out: FloatArray): void;
  /** out = (1/n) Σ_n ∇ℓ_n ∇ℓ_nᵀ v, the empirical Fisher (optional, as fv). */
  ev?(v: FloatArray, out: FloatArray): void;
}

/** How Model.curvature sets up its products. */
export interface CurvatureSetup {
  /** 'train' (batch statistics, dropout; the default) or 'eval' (running statistics, no dropout). */
  mode?: 'train' | 'eval';
  /** Sampled targets per sample of the Fisher (fv; default 1). */
  samples?: number;
  /** Seed of those targets (default 1). */
  seed?: number;
}

/**
 * Which curvature the Kronecker factors approximate (Martens & Grosse 2015; Kunstner et al. 2019):
 * 'fisher', the Fisher with output gradients for targets sampled from the model's predictive
 * distribution; 'ggn', the exact GGN through a symmetric factorisation of the loss Hessian
 * H_ℓ = S Sᵀ (one backward pass per column of S: "type-2" / KFLR); 'empirical', the empirical
 * Fisher from the true targets' gradients (the gradient pass's own δ).
 */
export type FactorKind = 'fisher' | 'ggn' | 'empirical';

export interface FactorOptions {
  kind: FactorKind;
  /** Seed of the sampled targets ('fisher'; default 1). */
  seed?: number;
  /** Sampled targets per sample ('fisher'; default 1): Γ averages their backward passes. */
  samples?: number;
}

/**
 * One layer's K-FAC block: for W̄ = [W | b] (rows × (cols + h), h = 1 with a bias, W row-major
 * [rows, cols] at `weight`, b [rows] at `bias`), the curvature of vec(W̄) (row-major) is
 * approximated by G ⊗ A, A = (1/N) Σ_n Σ_t x̄_{n,t} x̄_{n,t}ᵀ over the layer's input columns
 * x̄ = [x; 1] (one per sample for a dense layer, one per output position t of a convolution: its
 * im2col patches), G = (1/N) Σ_n (1/T) Σ_t g_{n,t} g_{n,t}ᵀ over the per-sample output
 * gradients g = dℓ_n/dz (KFC, Grosse & Martens 2016, with the 1/T on G).
 */
export interface KroneckerBlock {
  readonly name: string;
  readonly weight: number;
  readonly rows: number;
  readonly cols: number;
  readonly bias: number | null;
  /** (cols + h)², row-major. */
  readonly A: Float64Array;
  /** rows², row-major. */
  readonly G: Float64Array;
}

/**
 * Per-channel scale and shift (batch norm's γ at `scale`, β at `shift`, `channels` each): the
 * exact 2×2 curvature block of (γ_c, β_c) per channel, (1/N) Σ_n [a b]ᵀ[a b] with a = dℓ_n/dγ_c,
 * b = dℓ_n/dβ_c, stored as F[3c …] = [aa, ab, bb].
 */
export interface ChannelBlock {
  readonly name: string;
  readonly scale: number;
  readonly shift: number;
  readonly channels: number;
  readonly F: Float64Array;
}

/** The Kronecker-factored curvature of a batch's mean loss: one block per parameterised layer. */
export interface KroneckerFactors {
  readonly kind: FactorKind;
  readonly kronecker: KroneckerBlock[];
  readonly channels: ChannelBlock[];
  /** Samples the factors average over. */
  readonly samples: number;
}

export interface Model {
  readonly paramCount: number;
  /** The live parameters: optimizers update them in place. */
  readonly params: FloatArray;
  /** Mean loss over the batch at the current parameters. */
  loss(batch: Batch): number;
  /** Writes the gradient of the mean batch loss into `grad`; returns the loss. */
  gradient(batch: Batch, grad: FloatArray): number;
  /** Prepares Gv/Hv products at the current parameters on this batch. */
  curvature(batch: Batch, setup?: CurvatureSetup): Curvature;
  /**
   * out = (1/n) Σ_i (∇ℓ_i)², the empirical Fisher diagonal of the mean loss: per-example
   * gradients squared, on the same scale as G (HF's preconditioner).
   */
  sumSquaredGradients(batch: Batch, out: FloatArray): void;
  /**
   * K-FAC: the Kronecker factors of the curvature of the mean batch loss at the current
   * parameters, and (when `grad` is given) the gradient into it from the same forward pass;
   * returns the loss too. Optional: a model without it cannot run K-FAC.
   */
  kroneckerFactors?(batch: Batch, options: FactorOptions, grad?: FloatArray): { loss: number; factors: KroneckerFactors };
}

/** Curvature products whose results land later (see AsyncModel). */
export interface AsyncCurvature {
  gv(v: FloatArray, out: FloatArray): Promise<void>;
  hv(v: FloatArray, out: FloatArray): Promise<void>;
}

/**
 * The Model's passes as Promises, for models whose backend reads back only asynchronously (a
 * Network on WebGPU, `asyncReads` true: its synchronous passes throw there). On other backends
 * they resolve at once with exactly what the synchronous passes return.
 */
export interface AsyncModel extends Model {
  readonly asyncReads: boolean;
  lossAsync(batch: Batch): Promise<number>;
  gradientAsync(batch: Batch, grad: FloatArray): Promise<number>;
  curvatureAsync(batch: Batch): Promise<AsyncCurvature>;
  sumSquaredGradientsAsync(batch: Batch, out: FloatArray): Promise<void>;
}

/** Whether `m` must be driven through its asynchronous passes. */
export function readsLater(m: Model): m is AsyncModel {
  return (m as Partial<AsyncModel>).asyncReads === true;
}

/** Samples [start, end) of a batch, sharing its memory (HF's curvature mini-batch). */
export function sliceBatch(b: Batch, start: number, end: number): Batch {
  const size = b.x.length / b.n;
  const per = b.y.length / b.n;
  return { x: b.x.subarray(start * size, end * size), y: b.y.subarray(start * per, end * per), n: end - start };
}
