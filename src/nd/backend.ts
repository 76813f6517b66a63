/**
 * The Backend contract. Every layer and every pass (forward, backward, R-forward, R-backward,
 * Gauss-Newton) is composed from these primitives; nothing else touches a tensor's memory.
 * Destinations come first; nothing here allocates except the memory primitives.
 */
import type { DType, FloatArray } from './dtype.js';
import type { ConvGeometry, PoolGeometry } from './geometry.js';
import type { Shape } from './shape.js';

export type ActivationKind = 'identity' | 'sigmoid' | 'tanh' | 'relu' | 'leaky-relu' | 'gelu-tanh' | 'softplus';
export const ACTIVATIONS: readonly ActivationKind[] = ['identity', 'sigmoid', 'tanh', 'relu', 'leaky-relu', 'gelu-tanh', 'softplus'];

/** An activation by name, or leaky ReLU with its own negative slope (a spec stays plain JSON). */
export type ActivationFn = ActivationKind | { readonly kind: 'leaky-relu'; readonly slope: number };
/** Leaky ReLU's negative slope when none is given: PyTorch's `negative_slope` default. */
export const LEAKY_RELU_SLOPE = 0.01;
/** Softplus is x itself above this input, as PyTorch's `Softplus(beta=1, threshold=20)`. */
export const SOFTPLUS_THRESHOLD = 20;

/** The kind and the slope (leaky ReLU's; unused by the others) of an activation. */
export function activationParts(f: ActivationFn): { kind: ActivationKind; slope: number } {
  return typeof f === 'string' ? { kind: f, slope: LEAKY_RELU_SLOPE } : { kind: f.kind, slope: f.slope };
}

/** An opaque tensor owned by one backend. Row-major, [N, C, ...spatial] for activations. */
export interface Tensor {
  readonly shape: Shape;
}

export interface Backend {
  readonly name: string;
  readonly dtype: DType;
  /** One line on what actually runs (e.g. the gpu.js mode), for `ndcnn info` and logs. */
  describe(): string;

  // ---- memory ----
  /** A new tensor holding a copy of `data`. */
  upload(shape: Shape, data: ArrayLike<number>): Tensor;
  /**
   * A tensor standing for `host`, a slice of a flat parameter, gradient or direction vector.
   * CPU: the same memory, no copy. GPU: a device copy; `writeBack` copies device writes to `host`.
   */
  wrap(shape: Shape, host: FloatArray): Tensor;
  writeBack(t: Tensor): void;
  /** A host copy of the tensor's elements. */
  download(t: Tensor): FloatArray;
  zeros(shape: Shape): Tensor;
  /** The same elements seen with another shape of equal size (flatten); shares memory. */
  reshape(t: Tensor, shape: Shape): Tensor;
  /** Releases device memory now; the tensor must not be used afterwards. */
  dispose(t: Tensor): void;

  // ---- elementwise (out may alias an input) ----
  /** out = f(x), f'(x) or f''(x) for order 0, 1, 2; times that by `times` elementwise when given. */
  activation(out: Tensor, x: Tensor, fn: ActivationFn, order: 0 | 1 | 2, times?: Tensor): void;
  /** out = a ⊙ b */
  mul(out: Tensor, a: Tensor, b: Tensor): void;
  /** y += alpha · x */
  axpy(y: Tensor, alpha: number, x: Tensor): void;
  /** out = alpha · x */
  scale(out: Tensor, x: Tensor, alpha: number): void;
  fill(out: Tensor, value: number): void;

  // ---- linear algebra (2-D row-major) ----
  /** C = alpha · op(A) · op(B) + beta · C, op = transpose where asked. */
  gemm(C: Tensor, A: Tensor, B: Tensor, transA: boolean, transB: boolean, alpha: number, beta: number): void;
  dot(a: Tensor, b: Tensor): number;

  // ---- convolution (valid cross-correlation with stride, zero padding, dilation) ----
  /** y (+)= x ⋆ w: y[n,o,i] = Σ_{c,a} w[o,c,a] · x[n, c, i·s + a·d − p]. */
  conv(y: Tensor, x: Tensor, w: Tensor, g: ConvGeometry, accumulate: boolean): void;
  /** dx (+)= adjoint of conv in x: the full correlation of dy with the flipped kernel. */
  convBackData(dx: Tensor, dy: Tensor, w: Tensor, g: ConvGeometry, accumulate: boolean): void;
  /** dw (+)= adjoint of conv in w: dw[o,c,a] = Σ_{n,i} dy[n,o,i] · x[n, c, i·s + a·d − p]. */
  convBackFilter(dw: Tensor, x: Tensor, dy: Tensor, g: ConvGeometry, accumulate: boolean): void;
  /**
   * Optional, for the curvature extensions (per-sample gradients, diagonal curvature): each
   * sample's own filter gradient, dw[i,o,c,a] = Σ_pos dy[f+i, o, pos] · x[f+i, c, pos·s + a·d − p]
   * for the m = dw.shape[0] samples from f = `first` (overwrites dw, shaped [m, ...weights]).
   * A backend without it refuses those quantities for convolution and dense layers.
   */
  convBackFilterSamples?(dw: Tensor, x: Tensor, dy: Tensor, g: ConvGeometry, first: number): void;
  /**
   * Optional, for the same extensions: one pass over per-sample gradients G [m, P] (row i is a
   * sample's): norms[i] = Σ_p G[i,p]² (overwritten, [m]), squares[p] += Σ_i G[i,p]² and
   * sums[p] += Σ_i G[i,p] ([P] each), each output skipped when null. Without it the layers
   * compose these from mul and biasGrad (four passes over G instead of one).
   */
  sampleMoments?(G: Tensor, norms: Tensor | null, squares: Tensor | null, sums: Tensor | null): void;
  /**
   * Optional (K-FAC): out = Σ_n Σ_i c̄_i c̄_iᵀ over x's im2col columns c̄_i = [x[n, c, i·s + a·d − p]]
   * over (c, a), with a trailing 1 when `homogeneous`: ((CK + h) × (CK + h)), CK = Cin·Πkernel.
   * Layers compose it from conv and convBackFilter on a backend without it.
   */
  patchGram?(out: Tensor, x: Tensor, g: ConvGeometry, homogeneous: boolean): void;
  /** y[n, c, ...] += b[c] */
  biasAdd(y: Tensor, b: Tensor): void;
  /** db[c] += Σ_{n, ...} dy[n, c, ...] */
  biasGrad(db: Tensor, dy: Tensor): void;
  /**
   * out[n, c, ...] = a[c] · x[n, c, ...] + b[c]: a per-channel affine map (batch normalisation's
   * normalise, scale and shift, and its adjoints). out may alias x.
   */
  channelAffine(out: Tensor, x: Tensor, a: Tensor, b: Tensor): void;

  // ---- max-pooling ----
  /**
   * y = max over each window; argmax[n,c,o] = the winner's offset within its (n, c) plane of x
   * (stored as a number of the backend's dtype: exact to 2^24 in float32, far above any plane).
   * Ties go to the first element in row-major order.
   */
  maxPool(y: Tensor, argmax: Tensor, x: Tensor, g: PoolGeometry): void;
  /** y[n,c,o] = x[n, c, argmax[n,c,o]] (the pool's R-forward); x and y are shaped as `g` says. */
  gather(y: Tensor, x: Tensor, argmax: Tensor, g: PoolGeometry): void;
  /**
   * dx[n, c, argmax[n,c,o]] += dy[n,c,o] (the pool's backward); dx is not cleared first. The
   * geometry says which windows can hold each element of dx (a GPU gathers per element of dx).
   */
  scatterAdd(dx: Tensor, dy: Tensor, argmax: Tensor, g: PoolGeometry): void;

  // ---- average pooling (linear: the forward pass is y = A·x, its adjoint dx = Aᵀ·dy) ----
  /**
   * y[n,c,o] = Σ_{j ∈ W_o} x[n,c,j] / |W_o| over window o (padding holds zeros). |W_o| is the
   * whole window when `countPad` (PyTorch's count_include_pad=True), else only its positions
   * inside the input.
   */
  avgPool(y: Tensor, x: Tensor, g: PoolGeometry, countPad: boolean): void;
  /** dx[n,c,j] = Σ_{o : j ∈ W_o} dy[n,c,o] / |W_o|: avgPool's adjoint (overwrites dx). */
  avgPoolBack(dx: Tensor, dy: Tensor, g: PoolGeometry, countPad: boolean): void;
}

/**
 * A backend whose device answers reads only later (WebGPU). Everything else in the contract is
 * recorded synchronously in order; `download`, `dot` and `writeBack` throw, and values come back
 * through `read`, which resolves once the work recorded before it has run. The network's passes
 * name their read points (src/layers/reads.ts), so they run through `read` on such a backend.
 */
export interface AsyncReads {
  readonly asyncReads: true;
  read(t: Tensor): Promise<FloatArray>;
  /** read() of several tensors with one submission and one wait. */
  readAll(ts: readonly Tensor[]): Promise<FloatArray[]>;
  /** Σ a ⊙ b (dot's asynchronous form). */
  dotAsync(a: Tensor, b: Tensor): Promise<number>;
}

/** Whether `b` reads back only asynchronously. */
export function readsAsync(b: Backend): b is Backend & AsyncReads {
  return (b as Partial<AsyncReads>).asyncReads === true;
}
