/**
 * Residual block y = f(x) + P(x): f is a sub-sequence of layers (the body), P the identity or,
 * where f changes the shape (channels and/or spatial size), a 1×1 convolution with the stride that
 * maps the input's grid onto the output's (bias-free: f's last bias already adds a constant).
 * The block is ONE layer of the network's sequence; its parameters are contiguous in the flat
 * vector, the body's in order, then the projection's. Each pass composes the children's:
 *   forward     y = f(x) + P(x)
 *   backward    dE/dx = J_fᵀ dE/dy + J_Pᵀ dE/dy        (dE/dθ from each child's own backward)
 *   R-forward   R{y} = R{f(x)} + R{P(x)}               (each child's R-forward, from R{x} and v)
 *   R-backward  R{dE/dx} = R{J_fᵀ dE/dy} + R{J_Pᵀ dE/dy}, each child's R-backward in reverse order
 * The sum is linear, so it contributes nothing of its own to Hv: all curvature is the children's.
 * K-FAC: the same composition of the children's K-FAC passes (each child its own block).
 */
import type { Backend, Tensor } from '../nd/backend.js';
import type { FloatArray } from '../nd/dtype.js';
import type { Rng } from '../nd/rng.js';
import { ShapeError, fmt, sameShape, type Shape } from '../nd/shape.js';
import { conv } from './conv.js';
import { layerBackward, sequenceInput, type KroneckerSink } from './kronecker.js';
import { Buffers, type Layer, type LayerBuffer, type PassMode, type SampleOutputs } from './layer.js';
import { paramNamesOf, sequentialBuffers, sequentialParamNames } from './naming.js';
import { runSync, type Reads } from './reads.js';
import type { LayerSpec } from './registry.js';

export interface ResidualSpec {
  kind: 'residual';
  body: LayerSpec[];
  /** A 1×1 convolution on the skip path (needed when the body changes the shape); default false. */
  projection?: boolean;
}

export function residual(body: LayerSpec[], o: { projection?: boolean } = {}): ResidualSpec {
  return { kind: 'residual', body, ...o };
}

/** Builds a child layer from its input shape and spec, under the given name. */
export type ChildBuilder = (inShape: Shape, spec: LayerSpec, name: string) => Layer;

export class Residual implements Layer {
  readonly body: Layer[] = [];
  readonly projection: Layer | null;
  readonly outShape: Shape;
  readonly paramShapes: Shape[];
  /** PyTorch names as a module with a `body` nn.Sequential and a `projection` conv: `body.0.weight`, `projection.weight`. */
  readonly paramNames: readonly string[];
  readonly buffers: readonly LayerBuffer[];
  private readonly children: Layer[];
  private readonly buf: Buffers;

  constructor(
    private readonly backend: Backend,
    readonly name: string,
    readonly inShape: Shape,
    spec: ResidualSpec,
    build: ChildBuilder,
  ) {
    if (!Array.isArray(spec.body) || spec.body.length === 0) throw new ShapeError(`${name}: the body needs at least one layer`);
    if (spec.projection !== undefined && typeof spec.projection !== 'boolean') {
      throw new ShapeError(`${name}: projection must be true or false, got ${JSON.stringify(spec.projection)}`);
    }
    let shape = inShape;
    spec.body.forEach((s, i) => {
      const child = build(shape, s, `${name}.body.${i}`);
      this.body.push(child);
      shape = child.outShape;
    });
    this.outShape = shape;
    const same = sameShape(inShape, shape);
    if (!spec.projection && !same) {
      throw new ShapeError(
        `${name}: the body maps ${fmt(inShape)} to ${fmt(shape)}; x + f(x) needs equal shapes, or { projection: true } for a 1×1 convolution on the skip path`,
      );
    }
    this.projection = spec.projection ? build(inShape, projectionSpec(name, inShape, shape), `${name}.projection`) : null;
    this.children = this.projection ? [...this.body, this.projection] : this.body;
    this.paramShapes = this.children.flatMap((c) => c.paramShapes);
    const projected = this.projection ? paramNamesOf(this.projection).map((n) => `projection.${n}`) : [];
    this.paramNames = [...sequentialParamNames(this.body, 'body.'), ...projected];
    const projBuffers = (this.projection?.buffers ?? []).map((b) => ({ ...b, name: `projection.${b.name}` }));
    this.buffers = [...sequentialBuffers(this.body, 'body.'), ...projBuffers];
    this.buf = new Buffers(backend);
  }

  init(params: FloatArray[], rng: Rng): void {
    this.split(params).forEach((p, i) => this.children[i].init(p, rng));
  }

  dispose(): void {
    this.buf.clear();
    for (const c of this.children) c.dispose();
  }

  /** The pass mode (training or evaluation, dropout keys) reaches every child: a body may hold batch norm or dropout. */
  forward(x: Tensor, p: Tensor[], mode?: PassMode): Tensor {
    return runSync(this.backend, this.forwardReads(x, p, mode));
  }

  // Each pass with its children's read points (reads.ts): a body holding batch norm reads back
  // mid-pass, so on WebGPU the block's passes are the generators, and the plain ones run them.
  *forwardReads(x: Tensor, p: Tensor[], mode?: PassMode): Reads<Tensor> {
    const parts = this.split(p);
    let h = x;
    for (const [i, layer] of this.body.entries()) h = yield* forwardOf(layer, h, parts[i], mode);
    const skip = this.projection ? yield* forwardOf(this.projection, x, parts[this.body.length], mode) : x;
    return this.sum('y', h, skip);
  }

  backward(dy: Tensor, grad: Tensor[] | null): Tensor {
    return runSync(this.backend, this.backwardReads(dy, grad));
  }

  *backwardReads(dy: Tensor, grad: Tensor[] | null): Reads<Tensor> {
    const g = grad && this.split(grad);
    let d = dy;
    for (let i = this.body.length - 1; i >= 0; i--) d = yield* backwardOf(this.body[i], d, g && g[i]);
    const skip = this.projection ? yield* backwardOf(this.projection, dy, g && g[this.body.length]) : dy;
    return this.sum('dx', d, skip);
  }

  backwardParams(dy: Tensor, grad: Tensor[] | null): void {
    runSync(this.backend, this.backwardParamsReads(dy, grad));
  }

  *backwardParamsReads(dy: Tensor, grad: Tensor[] | null): Reads<void> {
    const g = grad && this.split(grad);
    let d = dy;
    for (let i = this.body.length - 1; i > 0; i--) d = yield* backwardOf(this.body[i], d, g && g[i]);
    yield* backwardParamsOf(this.body[0], d, g && g[0]);
    if (this.projection) yield* backwardParamsOf(this.projection, dy, g && g[this.body.length]);
  }

  /** Each child's own per-sample quantities: the sum adds no parameter of its own. */
  perSample(out: SampleOutputs): void {
    const parts = <T>(a: T[] | null) => a && this.split(a);
    const [grads, norms, squares, sums] = [parts(out.grads), parts(out.norms), parts(out.squares), parts(out.sums)];
    this.children.forEach((c, i) => {
      if (c.paramShapes.length === 0) return;
      if (!c.perSample) throw new Error(`${c.name}: this layer has no per-sample extension (Layer.perSample)`);
      c.perSample({ grads: grads && grads[i], norms: norms && norms[i], squares: squares && squares[i], sums: sums && sums[i] });
    });
  }

  kroneckerInput(offset: number, sink: KroneckerSink): void {
    sequenceInput(this.children, offset, sink);
  }

  kroneckerBackward(dy: Tensor, sink: KroneckerSink, grad: Tensor[] | null, needDx: boolean): Tensor | null {
    const g = grad && this.split(grad);
    let d: Tensor | null = dy;
    for (let i = this.body.length - 1; i >= 0; i--) d = layerBackward(this.body[i], d!, sink, g && g[i], needDx || i > 0);
    const skip = this.projection ? layerBackward(this.projection, dy, sink, g && g[this.body.length], needDx) : dy;
    return needDx ? this.sum('dx', d, skip) : null;
  }

  rForward(Rx: Tensor | null, v: Tensor[]): Tensor | null {
    return runSync(this.backend, this.rForwardReads(Rx, v));
  }

  *rForwardReads(Rx: Tensor | null, v: Tensor[]): Reads<Tensor | null> {
    const parts = this.split(v);
    let Rh = Rx;
    for (const [i, layer] of this.body.entries()) Rh = yield* rForwardOf(layer, Rh, parts[i]);
    const Rskip = this.projection ? yield* rForwardOf(this.projection, Rx, parts[this.body.length]) : Rx;
    if (!Rh && !Rskip) return null;
    return this.sum('Ry', Rh, Rskip);
  }

  rBackward(dy: Tensor, Rdy: Tensor, hv: Tensor[]): [Tensor, Tensor] {
    return runSync(this.backend, this.rBackwardReads(dy, Rdy, hv));
  }

  *rBackwardReads(dy: Tensor, Rdy: Tensor, hv: Tensor[]): Reads<[Tensor, Tensor]> {
    const h = this.split(hv);
    let [d, Rd] = [dy, Rdy];
    for (let i = this.body.length - 1; i >= 0; i--) [d, Rd] = yield* rBackwardOf(this.body[i], d, Rd, h[i]);
    const [s, Rs] = this.projection ? yield* rBackwardOf(this.projection, dy, Rdy, h[this.body.length]) : [dy, Rdy];
    return [this.sum('dx', d, s), this.sum('Rdx', Rd, Rs)];
  }

  /** a + b into the block's own buffer (children's outputs belong to them); null stands for zero. */
  private sum(key: string, a: Tensor | null, b: Tensor | null): Tensor {
    const shape = (a ?? b)!.shape;
    const out = this.buf.get(key, shape);
    if (a) this.backend.scale(out, a, 1);
    else this.backend.fill(out, 0);
    if (b) this.backend.axpy(out, 1, b);
    return out;
  }

  /** The block's list of parameter slices cut into one list per child. */
  private split<T>(all: T[]): T[][] {
    let at = 0;
    return this.children.map((c) => all.slice(at, (at += c.paramShapes.length)));
  }
}

// A child's pass through its read points where it has them (batch norm), else its plain pass.
function* forwardOf(l: Layer, x: Tensor, p: Tensor[], mode?: PassMode): Reads<Tensor> {
  return l.forwardReads ? yield* l.forwardReads(x, p, mode) : l.forward(x, p, mode);
}

function* backwardOf(l: Layer, dy: Tensor, grad: Tensor[] | null): Reads<Tensor> {
  return l.backwardReads ? yield* l.backwardReads(dy, grad) : l.backward(dy, grad);
}

function* backwardParamsOf(l: Layer, dy: Tensor, grad: Tensor[] | null): Reads<void> {
  if (l.backwardParamsReads) yield* l.backwardParamsReads(dy, grad);
  else l.backwardParams(dy, grad);
}

function* rForwardOf(l: Layer, Rx: Tensor | null, v: Tensor[]): Reads<Tensor | null> {
  return l.rForwardReads ? yield* l.rForwardReads(Rx, v) : l.rForward(Rx, v);
}

function* rBackwardOf(l: Layer, dy: Tensor, Rdy: Tensor, hv: Tensor[]): Reads<[Tensor, Tensor]> {
  return l.rBackwardReads ? yield* l.rBackwardReads(dy, Rdy, hv) : l.rBackward(dy, Rdy, hv);
}

/**
 * The 1×1 convolution from [C, ...n] to [C', ...m]: stride s = ⌈n/m⌉ per axis, which gives
 * ⌊(n − 1)/s⌋ + 1 = m outputs for every body that pads to keep ⌈n/stride⌉ (as ResNet's does).
 */
function projectionSpec(name: string, inShape: Shape, outShape: Shape): LayerSpec {
  if (outShape.length !== inShape.length) {
    throw new ShapeError(`${name}: the body maps ${fmt(inShape)} to ${fmt(outShape)}; a projection needs the same number of axes`);
  }
  const stride = inShape.slice(1).map((n, a) => Math.ceil(n / outShape[a + 1]));
  const fits = stride.every((s, a) => Math.floor((inShape[a + 1] - 1) / s) + 1 === outShape[a + 1]);
  if (!fits) {
    throw new ShapeError(`${name}: no 1×1 convolution stride maps the grid of ${fmt(inShape)} onto that of ${fmt(outShape)}`);
  }
  return conv({ channels: outShape[0], kernel: 1, stride, bias: false });
}
