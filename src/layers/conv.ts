/**
 * Convolution layer (the seed's x_ij = Σ_ab ω_ab y_(i+a)(j+b), generalised to any rank, several
 * channels, stride, zero padding and dilation), then bias and activation. The calculus is the
 * bilinear one (bilinear.ts) with op = conv and its adjoints convBackData / convBackFilter.
 * K-FAC's input factor (KFC) is the Gram matrix of the im2col patches: the backend's patchGram
 * where it has one, else composed from conv and convBackFilter (below).
 */
import type { ActivationFn, Backend, Tensor } from '../nd/backend.js';
import type { FloatArray } from '../nd/dtype.js';
import { ConvGeometry, type ConvOptions } from '../nd/geometry.js';
import { addInto } from './kronecker.js';
import type { Rng } from '../nd/rng.js';
import type { Shape } from '../nd/shape.js';
import { BilinearLayer } from './bilinear.js';
import { defaultInit, initWeights, type InitKind } from './init.js';

export interface ConvSpec extends ConvOptions {
  kind: 'conv';
  activation?: ActivationFn;
  bias?: boolean;
  init?: InitKind;
}

export function conv(o: Omit<ConvSpec, 'kind'>): ConvSpec {
  return { kind: 'conv', ...o };
}

export class Conv extends BilinearLayer {
  readonly geometry: ConvGeometry;
  readonly paramShapes: Shape[];
  private readonly initKind: InitKind;
  /** The identity-kernel geometry of composedGram and the 1×1 one of outputGram, made on first use. */
  private patches: { geometry: ConvGeometry; identity: Tensor } | null = null;
  private pointwise: ConvGeometry | null = null;

  constructor(backend: Backend, name: string, inShape: Shape, spec: ConvSpec) {
    const g = new ConvGeometry(name, inShape, spec);
    const activation = spec.activation ?? 'identity';
    super(backend, name, inShape, [g.cout, ...g.outSize], spec.bias ?? true, activation);
    this.geometry = g;
    this.paramShapes = this.bias ? [g.weightShape(), [g.cout]] : [g.weightShape()];
    this.initKind = spec.init ?? defaultInit(activation);
  }

  init([w, b]: FloatArray[], rng: Rng): void {
    const g = this.geometry;
    initWeights(w, this.initKind, g.cin * g.kernelVolume, g.cout * g.kernelVolume, rng);
    b?.fill(0);
  }

  protected apply(out: Tensor, x: Tensor, W: Tensor, accumulate: boolean): void {
    this.backend.conv(out, x, W, this.geometry, accumulate);
  }

  protected adjointX(dx: Tensor, dy: Tensor, W: Tensor, accumulate: boolean): void {
    this.backend.convBackData(dx, dy, W, this.geometry, accumulate);
  }

  protected adjointW(dW: Tensor, x: Tensor, dy: Tensor, accumulate: boolean): void {
    this.backend.convBackFilter(dW, x, dy, this.geometry, accumulate);
  }

  protected sampleWeights(G: Tensor, first: number): void {
    this.filterSamples()(G, this.x, this.delta!, this.geometry, first);
  }

  protected get positions(): number {
    return this.geometry.outVolume;
  }

  /** A += Σ_{n,t} x̄_t x̄_tᵀ over the patches x̄_t = [im2col(x)[:, t]; 1]. */
  protected inputGram(A: Float64Array, x: Tensor): void {
    const g = this.geometry;
    const c = g.cin * g.kernelVolume + (this.bias ? 1 : 0);
    if (this.backend.patchGram) {
      const t = this.buf.get('gram', [c, c]);
      this.backend.patchGram(t, x, g, this.bias);
      addInto(A, this.backend.download(t));
      return;
    }
    this.composedGram(A, x, c);
  }

  /**
   * The patch Gram from two primitives every backend has: the columns are a convolution with
   * the identity kernel E (CK output channels, E[(c,a), c, a] = 1), so col = conv(x, E) and
   * Σ col colᵀ = convBackFilter(x, col) on that geometry; the bias row is Σ col and n·T.
   * Twice the work of a direct Gram, and n·CK·T elements of memory for the columns.
   */
  private composedGram(A: Float64Array, x: Tensor, c: number): void {
    const g = this.geometry;
    const ck = g.cin * g.kernelVolume;
    this.patches ??= this.patchGeometry(ck);
    const { geometry: pg, identity } = this.patches;
    const n = x.shape[0];
    const col = this.buf.get('col', [n, ck, ...g.outSize]);
    this.backend.conv(col, x, identity, pg, false);
    const gram = this.buf.get('gram', [ck, g.cin, ...g.kernel]);
    this.backend.convBackFilter(gram, x, col, pg, false);
    const t = this.backend.download(gram);
    for (let i = 0; i < ck; i++) for (let j = 0; j < ck; j++) A[i * c + j] += t[i * ck + j];
    if (!this.bias) return;
    const sums = this.buf.get('colsum', [ck]);
    this.backend.fill(sums, 0);
    this.backend.biasGrad(sums, col);
    const s = this.backend.download(sums);
    for (let i = 0; i < ck; i++) {
      A[i * c + ck] += s[i];
      A[ck * c + i] += s[i];
    }
    A[ck * c + ck] += n * g.outVolume;
  }

  private patchGeometry(ck: number): { geometry: ConvGeometry; identity: Tensor } {
    const g = this.geometry;
    const geometry = new ConvGeometry(this.name, this.inShape, { channels: ck, kernel: g.kernel, stride: g.stride, padding: g.padding, dilation: g.dilation });
    const e = new Float64Array(ck * ck);
    for (let i = 0; i < ck; i++) e[i * ck + i] = 1;
    return { geometry, identity: this.backend.upload([ck, g.cin, ...g.kernel], e) };
  }

  /** G += w · Σ_{n,t} δ_t δ_tᵀ: convBackFilter of δ with itself through a 1×1 kernel on the output grid. */
  protected outputGram(G: Float64Array, dz: Tensor, w: number): void {
    const g = this.geometry;
    this.pointwise ??= new ConvGeometry(this.name, this.outShape, { channels: g.cout, kernel: 1 });
    const t = this.buf.get('dgram', [g.cout, g.cout, ...g.kernel.map(() => 1)]);
    this.backend.convBackFilter(t, dz, dz, this.pointwise, false);
    addInto(G, this.backend.download(t), w);
  }

  override dispose(): void {
    super.dispose();
    if (this.patches) this.backend.dispose(this.patches.identity);
    this.patches = null;
  }
}
