/** Tensors that live together and are released together (device memory on the GPU backend). */
import type { Backend, Tensor } from '../nd/backend.js';
import type { Shape } from '../nd/shape.js';

export class Scope {
  private readonly owned: Tensor[] = [];

  constructor(private readonly backend: Backend) {}

  add(t: Tensor): Tensor {
    this.owned.push(t);
    return t;
  }

  upload(shape: Shape, data: ArrayLike<number>): Tensor {
    return this.add(this.backend.upload(shape, data));
  }

  /** Copies device writes back into the wrapped host vectors. */
  writeBack(wrapped: Tensor[][]): void {
    for (const layer of wrapped) for (const t of layer) this.backend.writeBack(t);
  }

  dispose(): void {
    for (const t of this.owned) this.backend.dispose(t);
    this.owned.length = 0;
  }
}
