import ndarray, { type NdArray } from 'ndarray';
import type { FloatArray } from '../../dtype.js';
import { ShapeError, fmt, sizeOf, type Shape } from '../../shape.js';
import type { Tensor } from '../../backend.js';

/** A CPU tensor is a contiguous typed array seen through an ndarray view. */
export class CpuTensor implements Tensor {
  readonly nd: NdArray<FloatArray>;

  constructor(
    readonly shape: Shape,
    readonly data: FloatArray,
  ) {
    if (sizeOf(shape) !== data.length) {
      throw new ShapeError(`cpu tensor: shape ${fmt(shape)} needs ${sizeOf(shape)} elements, got ${data.length}`);
    }
    this.nd = ndarray(data, [...shape]);
  }
}

export function cpu(t: Tensor): CpuTensor {
  if (!(t instanceof CpuTensor)) throw new TypeError('cpu backend: tensor belongs to another backend');
  return t;
}
