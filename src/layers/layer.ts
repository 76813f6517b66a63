/**
 * The layer contract. Each layer file holds its forward formula, its backward (adjoint) rule and
 * its two R-operator rules together. Layers see only the Backend interface.
 *
 * Parameters live in the network's one flat vector; a layer receives tensors standing for its
 * slices (weights, then bias) on every pass and never keeps its own copies between batches.
 */
import type { Backend, Tensor } from '../nd/backend.js';
import type { FloatArray } from '../nd/dtype.js';
import type { Rng } from '../nd/rng.js';
import { sameShape, type Shape } from '../nd/shape.js';
import type { KroneckerSink } from './kronecker.js';
import type { Reads } from './reads.js';

/**
 * How a forward pass runs (PyTorch's train()/eval()). Training: batch statistics, dropout masks;
 * the network's loss, gradient and curvature products run so. Evaluation: running statistics,
 * no dropout; `predict` and `evalLoss` run so.
 */
export interface PassMode {
  readonly training: boolean;
  /** Fold this batch's statistics into the running ones (the network's gradient pass only). */
  readonly updateStats: boolean;
  /** One seeded key per sample, fixed for an optimizer step: the source of dropout's masks. */
  readonly keys: Uint32Array | null;
  /**
   * Threads (src/parallel): when the batch is split over threads, sums a vector over all of
   * them in place, in a fixed order. Layers that couple samples (batch norm) reduce their batch
   * sums through it; absent, the batch is all here.
   */
  readonly reduce?: (v: Float64Array) => void;
  /**
   * With updateStats: fold the batch into the running statistics as a plain average of every
   * batch since they were reset (PyTorch's momentum=None), to recompute them at fixed parameters.
   */
  readonly cumulative?: boolean;
  /**
   * Keep-masks given for this batch by dropout layer name (0 drops, 1 keeps; [n, ...shape] per
   * layer), used instead of drawing: to reproduce another framework's masks exactly.
   */
  readonly masks?: ReadonlyMap<string, ArrayLike<number>>;
}

/** Training without side effects: what a layer assumes when called without a mode. */
export const TRAINING: PassMode = { training: true, updateStats: false, keys: null };

export interface Layer {
  /** e.g. "conv#1": used in every error message. */
  readonly name: string;
  /** One sample's input and output shapes, [C, ...spatial] or [features]. */
  readonly inShape: Shape;
  readonly outShape: Shape;
  /** Shapes of the layer's slices of the flat parameter vector, in order (weights, then bias). */
  readonly paramShapes: Shape[];
  /**
   * Naming (naming.ts): how the layer appears in an equivalent PyTorch `nn.Sequential`.
   * `modules`: the slots it fills there (default 1; a conv or dense with a fused non-identity
   * activation fills 2: Conv/Linear, then ReLU/Sigmoid/Tanh). `paramNames`: the PyTorch names of
   * its paramShapes entries relative to its first slot (default `weight`, `bias`; a container
   * gives dotted names such as `body.0.weight`). `buffers`: non-trainable state outside the flat
   * vector (batch norm's `running_mean`, `running_var`, `num_batches_tracked`) as host arrays the
   * layer keeps current and reads back on its next pass; state dicts copy them and write into them.
   */
  readonly modules?: number;
  readonly paramNames?: readonly string[];
  readonly buffers?: readonly LayerBuffer[];
  init(params: FloatArray[], rng: Rng): void;
  /** Keeps what the later passes need (its input, pre-activations, argmaxes). */
  forward(x: Tensor, p: Tensor[], mode?: PassMode): Tensor;
  /** Adds dE/dθ into `grad` (when given) and returns dE/dx. */
  backward(dy: Tensor, grad: Tensor[] | null): Tensor;
  /**
   * backward without dE/dx, for the first layer, whose input gradient nobody reads; with `grad`
   * null it only keeps what perSample reads (the backward pass of a curvature extension).
   */
  backwardParams(dy: Tensor, grad: Tensor[] | null): void;
  /** R-forward: R{y} from R{x} (null = zero, as for the network input) and the direction v. */
  rForward(Rx: Tensor | null, v: Tensor[]): Tensor | null;
  /** R-backward: from dE/dy and R{dE/dy}, adds R{dE/dθ} = (Hv)_θ into `hv`; returns [dE/dx, R{dE/dx}]. */
  rBackward(dy: Tensor, Rdy: Tensor, hv: Tensor[]): [Tensor, Tensor];
  /** rBackward without dE/dx and R{dE/dx}, for the first layer (optional: rBackward serves otherwise). */
  rBackwardParams?(dy: Tensor, Rdy: Tensor, hv: Tensor[]): void;
  /** K-FAC (kronecker.ts): opens the layer's block at `offset` and adds its input statistics; every layer with parameters has it. */
  kroneckerInput?(offset: number, sink: KroneckerSink): void;
  /** K-FAC: backward(dy, grad) that adds this output-gradient column's statistics to the layer's block (dE/dx skipped unless `needDx`). */
  kroneckerBackward?(dy: Tensor, sink: KroneckerSink, grad: Tensor[] | null, needDx: boolean): Tensor | null;
  /** Frees the layer's buffers (device memory on the GPU backend). */
  dispose(): void;
  /**
   * A layer that reads values on the host in the middle of a pass (batch norm's per-channel
   * sums) also gives its passes with their read points (reads.ts), so they run on a backend
   * that reads back asynchronously; its plain methods are these run synchronously.
   */
  forwardReads?(x: Tensor, p: Tensor[], mode?: PassMode): Reads<Tensor>;
  backwardReads?(dy: Tensor, grad: Tensor[] | null): Reads<Tensor>;
  backwardParamsReads?(dy: Tensor, grad: Tensor[] | null): Reads<void>;
  rForwardReads?(Rx: Tensor | null, v: Tensor[]): Reads<Tensor | null>;
  rBackwardReads?(dy: Tensor, Rdy: Tensor, hv: Tensor[]): Reads<[Tensor, Tensor]>;
  /**
   * Curvature extension (BackPACK's idea: more than the gradient from one backward pass): each
   * sample's share of this layer's parameter gradient in the latest backward pass, from the input
   * its forward kept and the δ its backward kept, reduced as `out` asks. Layers without
   * parameters need none; a layer with parameters but without it is refused by the extensions.
   */
  perSample?(out: SampleOutputs): void;
  /**
   * The exact Hessian diagonal's extension: r = σ''(z) ⊙ dE/dy at the layer's own activation in
   * the latest backward pass, the term by which the Hessian at z exceeds the GGN's there (as
   * [n, ...] at z); null where it vanishes (piecewise-linear activations, or no activation).
   */
  curvatureResidual?(): Tensor | null;
  /**
   * The backward pass from dE/dz at the input of the layer's own activation, skipping it (the
   * diagonal's columns start there), keeping δ for perSample; returns dE/dx when `needDx`.
   * Layers whose residual is at their input (an activation layer) do without it.
   */
  backwardFromActivation?(dz: Tensor, needDx: boolean): Tensor | null;
}

/**
 * What a per-sample pass collects of one layer (Layer.perSample), one entry per parameter tensor
 * in paramShapes order, null where not wanted. g_n is sample n's term of the parameter gradient
 * of the latest backward pass (the g_n sum to that gradient).
 */
export interface SampleOutputs {
  /** Each sample's gradient, written into [n, ...shape]. */
  readonly grads: Tensor[] | null;
  /** ‖g_n‖² of each sample, written into a host array of length n. */
  readonly norms: Float64Array[] | null;
  /** Σ_n g_n² elementwise, added into [...shape] (the diagonal curvature sums it over backward passes). */
  readonly squares: Tensor[] | null;
  /** Σ_n g_n, added into [...shape]: the gradient itself, so the pass needs no other backward. */
  readonly sums: Tensor[] | null;
}

/** A layer's non-trainable tensor (see Layer.buffers); `integer` marks counters (PyTorch int64). */
export interface LayerBuffer {
  readonly name: string;
  readonly shape: Shape;
  readonly data: FloatArray;
  readonly integer?: boolean;
  /** Holds values that are never negative (a variance): a loaded negative value is refused. */
  readonly nonNegative?: boolean;
}

/** Output buffers reused across calls of equal batch size: no allocation per step. */
export class Buffers {
  private readonly map = new Map<string, Tensor>();

  constructor(private readonly backend: Backend) {}

  get(key: string, shape: Shape): Tensor {
    const t = this.map.get(key);
    if (t && sameShape(t.shape, shape)) return t;
    if (t) this.backend.dispose(t);
    const fresh = this.backend.zeros(shape);
    this.map.set(key, fresh);
    return fresh;
  }

  /** Frees every buffer (device memory on the GPU backend). */
  clear(): void {
    for (const t of this.map.values()) this.backend.dispose(t);
    this.map.clear();
  }
}

/** Batch size of an activation tensor [N, ...]. */
export function batchOf(t: Tensor): number {
  return t.shape[0];
}
