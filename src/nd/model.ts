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
  curvature(batch: Batch): Curvature;
  /**
   * out = (1/n) Σ_i (∇ℓ_i)², the empirical Fisher diagonal of the mean loss: per-example
   * gradients squared, on the same scale as G (HF's preconditioner).
   */
  sumSquaredGradients(batch: Batch, out: FloatArray): void;
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
