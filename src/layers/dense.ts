/**
 * Fully connected layer z = x·Wᵀ + b on flat inputs [N, in], W of shape [out, in] (PyTorch's
 * layout), then an activation. Bilinear calculus (bilinear.ts) with op(x, W) = x·Wᵀ,
 * opᵀ_x(δ, W) = δ·W and opᵀ_W(x, δ) = δᵀ·x.
 */
import type { ActivationFn, Backend, Tensor } from '../nd/backend.js';
import type { FloatArray } from '../nd/dtype.js';
import type { Rng } from '../nd/rng.js';
import { ShapeError, checkSizes, fmt, type Shape } from '../nd/shape.js';
import { BilinearLayer } from './bilinear.js';
import { defaultInit, initWeights, type InitKind } from './init.js';

export interface DenseSpec {
  kind: 'dense';
  units: number;
  activation?: ActivationFn;
  bias?: boolean;
  init?: InitKind;
}

export function dense(o: Omit<DenseSpec, 'kind'>): DenseSpec {
  return { kind: 'dense', ...o };
}

export class Dense extends BilinearLayer {
  readonly paramShapes: Shape[];
  private readonly initKind: InitKind;

  constructor(backend: Backend, name: string, inShape: Shape, spec: DenseSpec) {
    if (inShape.length !== 1) {
      throw new ShapeError(`${name}: input ${fmt(inShape)} is not flat; put flatten() before a dense layer`);
    }
    checkSizes(name, 'units', [spec.units]);
    const activation = spec.activation ?? 'identity';
    super(backend, name, inShape, [spec.units], spec.bias ?? true, activation);
    this.paramShapes = this.bias ? [[spec.units, inShape[0]], [spec.units]] : [[spec.units, inShape[0]]];
    this.initKind = spec.init ?? defaultInit(activation);
  }

  init([w, b]: FloatArray[], rng: Rng): void {
    initWeights(w, this.initKind, this.inShape[0], this.outShape[0], rng);
    b?.fill(0);
  }

  protected apply(out: Tensor, x: Tensor, W: Tensor, accumulate: boolean): void {
    this.backend.gemm(out, x, W, false, true, 1, accumulate ? 1 : 0);
  }

  protected adjointX(dx: Tensor, dy: Tensor, W: Tensor, accumulate: boolean): void {
    this.backend.gemm(dx, dy, W, false, false, 1, accumulate ? 1 : 0);
  }

  protected adjointW(dW: Tensor, x: Tensor, dy: Tensor, accumulate: boolean): void {
    this.backend.gemm(dW, dy, x, true, false, 1, accumulate ? 1 : 0);
  }
}
