/**
 * Convolution and pooling geometry, computed once per layer and shared by the forward pass and
 * both adjoints. Spatial tuples keep the layer's own rank (1, 2 or 3); the `*3` fields lift them
 * to three axes with leading singletons, which is all a backend ever loops over.
 */
import { ShapeError, checkSizes, fmt, lift3, perAxis, sizeOf, type Shape } from './shape.js';

type Triple = [number, number, number];

export interface ConvOptions {
  /** Output channels. */
  channels: number;
  kernel: number | Shape;
  stride?: number | Shape;
  /**
   * Zeros on both sides of each axis: a number, one per axis, 'valid' (0), or 'same', which
   * keeps the spatial size: p = d·(k − 1)/2 per axis, for stride 1 and odd extents d·(k − 1) + 1.
   */
  padding?: number | Shape | 'same' | 'valid';
  dilation?: number | Shape;
}

export class ConvGeometry {
  readonly rank: number;
  readonly cin: number;
  readonly cout: number;
  readonly inSize: number[];
  readonly kernel: number[];
  readonly stride: number[];
  readonly padding: number[];
  readonly dilation: number[];
  /** Output size per axis: floor((N + 2p - d(m-1) - 1) / s) + 1, i.e. N - m + 1 in the seed's case. */
  readonly outSize: number[];
  readonly in3: Triple;
  readonly k3: Triple;
  readonly s3: Triple;
  readonly p3: Triple;
  readonly d3: Triple;
  readonly o3: Triple;
  readonly kernelVolume: number;
  readonly inVolume: number;
  readonly outVolume: number;

  /** `inShape` is one sample's shape [Cin, ...spatial]; `where` names the layer in errors. */
  constructor(where: string, inShape: Shape, o: ConvOptions) {
    const rank = inShape.length - 1;
    if (rank < 1 || rank > 3) {
      throw new ShapeError(`${where}: input ${fmt(inShape)} must be [C, ...spatial] with 1 to 3 spatial axes`);
    }
    checkSizes(where, 'input sizes', inShape);
    checkSizes(where, 'output channels', [o.channels]);
    this.rank = rank;
    this.cin = inShape[0];
    this.cout = o.channels;
    this.inSize = inShape.slice(1);
    this.kernel = perAxis(where, 'kernel', o.kernel, rank);
    this.stride = perAxis(where, 'stride', o.stride ?? 1, rank);
    this.dilation = perAxis(where, 'dilation', o.dilation ?? 1, rank);
    checkSizes(where, 'kernel sizes', this.kernel);
    checkSizes(where, 'strides', this.stride);
    checkSizes(where, 'dilations', this.dilation);
    this.padding = convPadding(where, o.padding ?? 0, this.kernel, this.stride, this.dilation);
    checkSizes(where, 'paddings', this.padding, true);
    this.outSize = this.inSize.map((n, a) => {
      const extent = this.dilation[a] * (this.kernel[a] - 1) + 1;
      const padded = n + 2 * this.padding[a];
      if (extent > padded) {
        throw new ShapeError(
          `${where}: kernel ${fmt(this.kernel)} (dilation ${fmt(this.dilation)}, extent ${extent} on axis ${a}) ` +
            `is larger than the padded input ${fmt(inShape)} + 2*${fmt(this.padding)}`,
        );
      }
      return Math.floor((padded - extent) / this.stride[a]) + 1;
    });
    this.in3 = lift3(this.inSize, 1);
    this.k3 = lift3(this.kernel, 1);
    this.s3 = lift3(this.stride, 1);
    this.p3 = lift3(this.padding, 0);
    this.d3 = lift3(this.dilation, 1);
    this.o3 = lift3(this.outSize, 1);
    this.kernelVolume = sizeOf(this.kernel);
    this.inVolume = sizeOf(this.inSize);
    this.outVolume = sizeOf(this.outSize);
  }

  inShape(batch: number): number[] {
    return [batch, this.cin, ...this.inSize];
  }

  outShape(batch: number): number[] {
    return [batch, this.cout, ...this.outSize];
  }

  weightShape(): number[] {
    return [this.cout, this.cin, ...this.kernel];
  }
}

/**
 * 'same' padding: the output size (N + 2p − d(k−1) − 1)/s + 1 equals N exactly when s = 1 and
 * 2p = d(k−1), so p = d(k−1)/2, which is whole only for an odd extent d(k−1) + 1. PyTorch pads
 * an even extent unevenly; here padding is symmetric, so that case is refused.
 */
function convPadding(where: string, padding: NonNullable<ConvOptions['padding']>, kernel: number[], stride: number[], dilation: number[]): number[] {
  if (padding === 'valid') return kernel.map(() => 0);
  if (padding !== 'same') {
    if (typeof padding === 'string') {
      throw new ShapeError(`${where}: padding must be a number, one number per spatial axis, 'same' or 'valid', got '${padding}'`);
    }
    return perAxis(where, 'padding', padding, kernel.length);
  }
  if (stride.some((s) => s !== 1)) {
    throw new ShapeError(`${where}: padding 'same' needs stride 1 on every axis, got stride ${fmt(stride)}`);
  }
  const extent = kernel.map((k, a) => dilation[a] * (k - 1) + 1);
  if (extent.some((e) => e % 2 === 0)) {
    throw new ShapeError(
      `${where}: padding 'same' needs an odd kernel extent d·(k−1)+1 on every axis; kernel ${fmt(kernel)} ` +
        `with dilation ${fmt(dilation)} spans ${fmt(extent)} (give the padding explicitly instead)`,
    );
  }
  return extent.map((e) => (e - 1) / 2);
}

export interface PoolOptions {
  window: number | Shape;
  /** Defaults to the window (non-overlapping blocks, as in the seed). */
  stride?: number | Shape;
  /** Implicit zeros on both sides of each axis, at most half the window (as PyTorch); default 0. */
  padding?: number | Shape;
}

/**
 * Pooling geometry in floor mode: a remainder that does not fill a window is dropped. Window o
 * covers the input positions o·s − p … o·s − p + w − 1 on each axis.
 */
export class PoolGeometry {
  readonly rank: number;
  readonly channels: number;
  readonly inSize: number[];
  readonly window: number[];
  readonly stride: number[];
  readonly padding: number[];
  readonly outSize: number[];
  readonly in3: Triple;
  readonly w3: Triple;
  readonly s3: Triple;
  readonly p3: Triple;
  readonly o3: Triple;
  readonly inVolume: number;
  readonly outVolume: number;

  constructor(where: string, inShape: Shape, o: PoolOptions) {
    const rank = inShape.length - 1;
    if (rank < 1 || rank > 3) {
      throw new ShapeError(`${where}: input ${fmt(inShape)} must be [C, ...spatial] with 1 to 3 spatial axes`);
    }
    checkSizes(where, 'input sizes', inShape);
    this.rank = rank;
    this.channels = inShape[0];
    this.inSize = inShape.slice(1);
    this.window = perAxis(where, 'window', o.window, rank);
    this.stride = perAxis(where, 'stride', o.stride ?? this.window, rank);
    checkSizes(where, 'window sizes', this.window);
    checkSizes(where, 'strides', this.stride);
    this.padding = perAxis(where, 'padding', o.padding ?? 0, rank);
    checkSizes(where, 'paddings', this.padding, true);
    this.outSize = this.inSize.map((n, a) => {
      // More padding than half a window would allow windows of padding alone (PyTorch's rule too).
      if (2 * this.padding[a] > this.window[a]) {
        throw new ShapeError(`${where}: padding ${fmt(this.padding)} exceeds half the window ${fmt(this.window)}`);
      }
      if (this.window[a] > n + 2 * this.padding[a]) {
        throw new ShapeError(`${where}: window ${fmt(this.window)} is larger than the input ${fmt(inShape)} + 2*${fmt(this.padding)}`);
      }
      return Math.floor((n + 2 * this.padding[a] - this.window[a]) / this.stride[a]) + 1;
    });
    this.in3 = lift3(this.inSize, 1);
    this.w3 = lift3(this.window, 1);
    this.s3 = lift3(this.stride, 1);
    this.p3 = lift3(this.padding, 0);
    this.o3 = lift3(this.outSize, 1);
    this.inVolume = sizeOf(this.inSize);
    this.outVolume = sizeOf(this.outSize);
  }

  inShape(batch: number): number[] {
    return [batch, this.channels, ...this.inSize];
  }

  outShape(batch: number): number[] {
    return [batch, this.channels, ...this.outSize];
  }
}
