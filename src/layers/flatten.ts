/** Flatten [N, C, ...spatial] to [N, C·Πspatial] row-major (torch.flatten(x, 1)); every pass is a reshape. */
import type { Backend, Tensor } from '../nd/backend.js';
import { sizeOf, type Shape } from '../nd/shape.js';
import type { Layer } from './layer.js';

export interface FlattenSpec {
  kind: 'flatten';
}

export function flatten(): FlattenSpec {
  return { kind: 'flatten' };
}

export class Flatten implements Layer {
  readonly outShape: Shape;
  readonly paramShapes: Shape[] = [];

  constructor(
    private readonly backend: Backend,
    readonly name: string,
    readonly inShape: Shape,
  ) {
    this.outShape = [sizeOf(inShape)];
  }

  init(): void {}

  backwardParams(): void {
    // No parameters, and the input gradient is not wanted.
  }

  dispose(): void {}

  forward(x: Tensor): Tensor {
    return this.backend.reshape(x, [x.shape[0], ...this.outShape]);
  }

  backward(dy: Tensor): Tensor {
    return this.backend.reshape(dy, [dy.shape[0], ...this.inShape]);
  }

  rForward(Rx: Tensor | null): Tensor | null {
    return Rx && this.forward(Rx);
  }

  rBackward(dy: Tensor, Rdy: Tensor): [Tensor, Tensor] {
    return [this.backward(dy), this.backward(Rdy)];
  }
}
