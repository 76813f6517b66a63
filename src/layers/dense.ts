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
import { addInto } from './kronecker.js';
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

  protected get positions(): number {
    return 1;
  }

  /** A += [xᵀx, xᵀ1; 1ᵀx, n] (the last row and column only with a bias). */
  protected inputGram(A: Float64Array, x: Tensor): void {
    const [n, k] = x.shape;
    const xtx = this.buf.get('xtx', [k, k]);
    this.backend.gemm(xtx, x, x, true, false, 1, 0);
    const t = this.backend.download(xtx);
    const c = k + (this.bias ? 1 : 0);
    for (let i = 0; i < k; i++) for (let j = 0; j < k; j++) A[i * c + j] += t[i * k + j];
    if (!this.bias) return;
    const sums = this.buf.get('xsum', [k]);
    this.backend.fill(sums, 0);
    this.backend.biasGrad(sums, x);
    const s = this.backend.download(sums);
    for (let i = 0; i < k; i++) {
      A[i * c + k] += s[i];
      A[k * c + i] += s[i];
    }
    A[k * c + k] += n;
  }

  /** G += w·δᵀδ. */
  protected outputGram(G: Float64Array, dz: Tensor, w: number): void {
    const k = dz.shape[1];
    const t = this.buf.get('dtd', [k, k]);
    this.backend.gemm(t, dz, dz, true, false, w, 0);
    addInto(G, this.backend.download(t));
  }
}
