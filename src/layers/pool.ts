/**
 * Max-pooling (the seed's k×k blocks reduced to their maximum), any rank, floor mode.
 *   forward     y = max over the window, remembering the argmax
 *   backward    dE/dx = 0 except at each window's argmax, which receives dE/dy (sparse routing)
 *   R-forward   R{y} = R{x} at the argmax (the max is locally linear: it picks one element)
 *   R-backward  the same routing for R{dE/dy}
 */
import type { Backend, Tensor } from '../nd/backend.js';
import { PoolGeometry, type PoolOptions } from '../nd/geometry.js';
import { ShapeError, fmt, type Shape } from '../nd/shape.js';
import { Buffers, type Layer } from './layer.js';

export interface MaxPoolSpec extends PoolOptions {
  kind: 'maxPool';
}

export function maxPool(o: Omit<MaxPoolSpec, 'kind'>): MaxPoolSpec {
  return { kind: 'maxPool', ...o };
}

export class MaxPool implements Layer {
  readonly geometry: PoolGeometry;
  readonly outShape: Shape;
  readonly paramShapes: Shape[] = [];
  private readonly buf: Buffers;
  private x!: Tensor;
  private argmax!: Tensor;

  constructor(
    private readonly backend: Backend,
    readonly name: string,
    readonly inShape: Shape,
    spec: MaxPoolSpec,
  ) {
    this.geometry = new PoolGeometry(name, inShape, spec);
    if (this.geometry.padding.some((p) => p > 0)) {
      throw new ShapeError(`${name}: max-pooling takes no padding (got ${fmt(this.geometry.padding)})`);
    }
    this.outShape = [this.geometry.channels, ...this.geometry.outSize];
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
    this.x = x;
    const shape = this.geometry.outShape(x.shape[0]);
    const y = this.buf.get('y', shape);
    this.argmax = this.buf.get('argmax', shape);
    this.backend.maxPool(y, this.argmax, x, this.geometry);
    return y;
  }

  backward(dy: Tensor): Tensor {
    return this.route(dy, 'dx');
  }

  rForward(Rx: Tensor | null): Tensor | null {
    if (!Rx) return null;
    const Ry = this.buf.get('Ry', this.argmax.shape);
    this.backend.gather(Ry, Rx, this.argmax, this.geometry);
    return Ry;
  }

  rBackward(dy: Tensor, Rdy: Tensor): [Tensor, Tensor] {
    return [this.route(dy, 'dx'), this.route(Rdy, 'Rdx')];
  }

  private route(dy: Tensor, key: string): Tensor {
    const dx = this.buf.get(key, this.x.shape);
    this.backend.fill(dx, 0);
    this.backend.scatterAdd(dx, dy, this.argmax, this.geometry);
    return dx;
  }
}
