/**
 * Convolution layer (the seed's x_ij = Σ_ab ω_ab y_(i+a)(j+b), generalised to any rank, several
 * channels, stride, zero padding and dilation), then bias and activation. The calculus is the
 * bilinear one (bilinear.ts) with op = conv and its adjoints convBackData / convBackFilter.
 */
import type { ActivationFn, Backend, Tensor } from '../nd/backend.js';
import type { FloatArray } from '../nd/dtype.js';
import { ConvGeometry, type ConvOptions } from '../nd/geometry.js';
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
}
