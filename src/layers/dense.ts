/**
 * Fully connected layer z = x·Wᵀ + b on flat inputs [N, in], W of shape [out, in] (PyTorch's
 * layout), then an activation. Bilinear calculus (bilinear.ts) with op(x, W) = x·Wᵀ,
 * opᵀ_x(δ, W) = δ·W and opᵀ_W(x, δ) = δᵀ·x.
 */
import type { ActivationFn, Backend, Tensor } from '../nd/backend.js';
import type { FloatArray } from '../nd/dtype.js';
import type { Rng } from '../nd/rng.js';
import { ShapeError, checkSizes, fmt, type Shape } from '../nd/shape.js';
import { ConvGeometry } from '../nd/geometry.js';
import { BilinearLayer } from './bilinear.js';
import type { SampleOutputs } from './layer.js';
import { rowSums } from './samples.js';
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
  /** The layer as a 1×1 convolution of [in, 1] (sampleWeights; and inputGram's patches: the rows of x). */
  private readonly point: ConvGeometry;

  constructor(backend: Backend, name: string, inShape: Shape, spec: DenseSpec) {
    if (inShape.length !== 1) {
      throw new ShapeError(`${name}: input ${fmt(inShape)} is not flat; put flatten() before a dense layer`);
    }
    checkSizes(name, 'units', [spec.units]);
    const activation = spec.activation ?? 'identity';
    super(backend, name, inShape, [spec.units], spec.bias ?? true, activation);
    this.paramShapes = this.bias ? [[spec.units, inShape[0]], [spec.units]] : [[spec.units, inShape[0]]];
    this.initKind = spec.init ?? defaultInit(activation);
    this.point = new ConvGeometry(name, [inShape[0], 1], { channels: spec.units, kernel: 1 });
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

  /**
   * g_n = δ_n x_nᵀ is an outer product: ‖g_n‖² = ‖δ_n‖²·‖x_n‖² and Σ_n g_n² = (δ⊙δ)ᵀ(x⊙x), one
   * GEMM, where materialising the n outer products would cost n·out·in memory traffic
   * (BackPACK's trick for linear layers). Materialised gradients take the general path.
   */
  protected override weightSamples(out: SampleOutputs, dz: Tensor): void {
    if (out.grads) return super.weightSamples(out, dz);
    if (out.sums) this.adjointW(out.sums[0], this.x, dz, true);
    if (!out.norms && !out.squares) return;
    const n = dz.shape[0];
    const x2 = this.buf.get('x2', this.x.shape);
    const d2 = this.buf.get('d2', dz.shape);
    this.backend.mul(x2, this.x, this.x);
    this.backend.mul(d2, dz, dz);
    if (out.norms) {
      const [xs, ds] = [rowSums(this.backend, this.buf, x2, n, this.inShape[0]), rowSums(this.backend, this.buf, d2, n, this.outShape[0])];
      out.norms[0].set(xs.map((v, i) => v * ds[i]));
    }
    if (out.squares) this.backend.gemm(out.squares[0], d2, x2, true, false, 1, 1);
  }

  /** The outer products through the backend's per-sample filter gradients: a dense layer is a 1×1 convolution of a length-1 signal. */
  protected sampleWeights(G: Tensor, first: number): void {
    const n = this.x.shape[0];
    const [units, inputs] = [this.outShape[0], this.inShape[0]];
    const b = this.backend;
    this.filterSamples()(b.reshape(G, [G.shape[0], units, inputs, 1]), b.reshape(this.x, [n, inputs, 1]), b.reshape(this.delta!, [n, units, 1]), this.point, first);
  }

  protected get positions(): number {
    return 1;
  }

  /** A += [xᵀx, xᵀ1; 1ᵀx, n] (the last row and column only with a bias). */
  protected inputGram(A: Float64Array, x: Tensor): void {
    const [n, k] = x.shape;
    if (this.backend.patchGram) {
      // The rows of x are the patches of a length-1 input under a 1×1 kernel: the backend's
      // patch Gram gives xᵀx with the bias row and column in one call and one read-back.
      const c = k + (this.bias ? 1 : 0);
      const t = this.buf.get('gram', [c, c]);
      this.backend.patchGram(t, this.backend.reshape(x, [n, k, 1]), this.point, this.bias);
      addInto(A, this.backend.download(t));
      return;
    }
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
