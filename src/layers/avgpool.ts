/**
 * Average pooling, any rank, floor mode, and global average pooling. Both are linear maps
 * y = A·x of the input, A_oj = [j ∈ W_o] / |W_o| per (n, c) plane, so:
 *   forward     y_o = Σ_{j ∈ W_o} x_j / |W_o|
 *   backward    dE/dx = Aᵀ dE/dy:  dE/dx_j = Σ_{o : j ∈ W_o} dE/dy_o / |W_o|
 *   R-forward   R{y} = A R{x}                  (a linear map is its own derivative)
 *   R-backward  R{dE/dx} = Aᵀ R{dE/dy}         (A does not depend on x or θ: no second term)
 * W_o is window o, clipped to the input; |W_o| is the whole window with `countIncludePad`
 * (PyTorch's count_include_pad, default true: padded zeros are averaged in), else the positions
 * inside the input. Global average pooling is one window over all spatial positions, with
 * output [C] per sample (torch.mean(x, spatial axes): PyTorch's AdaptiveAvgPoolNd(1) then
 * Flatten, two modules in its state-dict numbering), so a dense layer can follow directly.
 */
import type { Backend, Tensor } from '../nd/backend.js';
import { PoolGeometry, type PoolOptions } from '../nd/geometry.js';
import { ShapeError, fmt, type Shape } from '../nd/shape.js';
import { Buffers, type Layer } from './layer.js';

export interface AvgPoolSpec extends PoolOptions {
  kind: 'avgPool';
  /** Divide by the whole window, padding included (default true, as PyTorch), or by its part inside the input. */
  countIncludePad?: boolean;
}

export interface GlobalAvgPoolSpec {
  kind: 'globalAvgPool';
}

export function avgPool(o: Omit<AvgPoolSpec, 'kind'>): AvgPoolSpec {
  return { kind: 'avgPool', ...o };
}

export function globalAvgPool(): GlobalAvgPoolSpec {
  return { kind: 'globalAvgPool' };
}

export class AvgPool implements Layer {
  readonly geometry: PoolGeometry;
  readonly outShape: Shape;
  readonly paramShapes: Shape[] = [];
  /** Slots in an equivalent nn.Sequential: AvgPoolNd, or AdaptiveAvgPoolNd(1) then Flatten for the global pool. */
  readonly modules: number;
  private readonly countPad: boolean;
  private readonly buf: Buffers;
  private xShape!: Shape;

  constructor(
    private readonly backend: Backend,
    readonly name: string,
    readonly inShape: Shape,
    spec: Omit<AvgPoolSpec, 'kind'>,
    /** The output shape per sample: the pooled [C, ...out], or [C] for the global pool. */
    outShape?: Shape,
  ) {
    this.geometry = new PoolGeometry(name, inShape, spec);
    this.outShape = outShape ?? [this.geometry.channels, ...this.geometry.outSize];
    if (spec.countIncludePad !== undefined && typeof spec.countIncludePad !== 'boolean') {
      throw new ShapeError(`${name}: countIncludePad must be true or false, got ${JSON.stringify(spec.countIncludePad)}`);
    }
    this.countPad = spec.countIncludePad ?? true;
    this.modules = outShape ? 2 : 1;
    this.buf = new Buffers(backend);
  }

  init(): void {}

  backwardParams(): void {
    // No parameters, and the input gradient is not wanted.
  }

  dispose(): void {
    this.buf.clear();
  }

  forward(x: Tensor): Tensor {
    this.xShape = x.shape;
    return this.pool(x, 'y');
  }

  backward(dy: Tensor): Tensor {
    return this.adjoint(dy, 'dx');
  }

  rForward(Rx: Tensor | null): Tensor | null {
    return Rx && this.pool(Rx, 'Ry');
  }

  rBackward(dy: Tensor, Rdy: Tensor): [Tensor, Tensor] {
    return [this.adjoint(dy, 'dx'), this.adjoint(Rdy, 'Rdx')];
  }

  /** y = A x, seen with the layer's output shape. */
  private pool(x: Tensor, key: string): Tensor {
    const n = x.shape[0];
    const y = this.buf.get(key, this.geometry.outShape(n));
    this.backend.avgPool(y, x, this.geometry, this.countPad);
    return this.backend.reshape(y, [n, ...this.outShape]);
  }

  /** dx = Aᵀ dy. */
  private adjoint(dy: Tensor, key: string): Tensor {
    const dx = this.buf.get(key, this.xShape);
    const g = this.geometry;
    this.backend.avgPoolBack(dx, this.backend.reshape(dy, g.outShape(dy.shape[0])), g, this.countPad);
    return dx;
  }
}

/** Global average pooling: AvgPool with the window the whole spatial extent, output [C]. */
export function globalAvgPoolLayer(backend: Backend, name: string, inShape: Shape): AvgPool {
  if (inShape.length < 2) throw new ShapeError(`${name}: input ${fmt(inShape)} must be [C, ...spatial] with 1 to 3 spatial axes`);
  return new AvgPool(backend, name, inShape, { window: inShape.slice(1) }, [inShape[0]]);
}
