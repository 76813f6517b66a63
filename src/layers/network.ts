/**
 * A sequence of layers built from one sample's input shape, with ONE flat parameter vector
 * (layers in order, each layer's weights then bias, PyTorch layouts). Gradients, directions v,
 * Hv and Gv share that layout. Implements the optimizers' Model interface.
 */
import { checkFinite, checkLength, checkNumbers, outputVector, toFloat, type Numbers, type Output } from '../nd/arrays.js';
import { checkArguments, toBatch } from './arguments.js';
import type { Backend, Tensor } from '../nd/backend.js';
import { allocate, type FloatArray } from '../nd/dtype.js';
import type { Batch, BatchLike, Curvature, Model } from '../nd/model.js';
import { sliceBatch } from '../nd/model.js';
import { Rng } from '../nd/rng.js';
import { ShapeError, checkSizes, fmt, sizeOf, type Shape } from '../nd/shape.js';
import type { Layer, LayerBuffer } from './layer.js';
import { losses, type Loss, type LossName } from './loss.js';
import { layerTensors, type NamedParameter } from './naming.js';
import { buildLayer, type LayerSpec } from './registry.js';
import { applyState, collectState, type StateDict } from './state.js';
import { Scope } from './scope.js';
import { oneLine, summaryTable } from './summary.js';

export interface NetworkOptions {
  loss?: LossName;
  /** Seed for the initial weights (Glorot/He); default 1. */
  seed?: number;
  /** Reject inputs holding NaN or ±Infinity with an error naming the sample (default true). */
  checkInputs?: boolean;
}

/**
 * Hv and Gv on any array-like direction, into a Float32Array, Float64Array or number[]. A NaN in
 * v is not refused: it gives NaN products, which conjugate gradient detects and reports.
 */
export interface NetworkCurvature extends Curvature {
  gv(v: Numbers, out: Output): void;
  hv(v: Numbers, out: Output): void;
}

interface Slice {
  offset: number;
  shape: Shape;
  size: number;
}

export class Network implements Model {
  readonly layers: Layer[] = [];
  readonly outShape: Shape;
  readonly paramCount: number;
  readonly params: FloatArray;
  readonly lossFn: Loss;
  readonly lossName: LossName;
  private readonly slices: Slice[][] = [];
  private readonly checkInputs: boolean;
  /** Counts forward passes, so a Curvature knows when the layers' saved state is no longer its own. */
  private generation = 0;
  /** The input and parameter tensors of the latest forward pass, which later passes still read. */
  private live: Scope;

  constructor(
    readonly backend: Backend,
    readonly inShape: Shape,
    readonly specs: readonly LayerSpec[],
    options: NetworkOptions = {},
  ) {
    checkArguments(inShape, specs, options);
    this.lossName = options.loss ?? 'softmax-cross-entropy';
    if (!Object.prototype.hasOwnProperty.call(losses, this.lossName)) {
      throw new Error(`network: unknown loss '${this.lossName}' (known: ${Object.keys(losses).join(', ')})`);
    }
    this.lossFn = losses[this.lossName];
    this.checkInputs = options.checkInputs ?? true;
    this.live = new Scope(backend);
    checkSizes('network', 'input sizes', inShape);
    if (specs.length === 0) throw new ShapeError('network: no layers given');
    let shape = inShape;
    let offset = 0;
    specs.forEach((spec, i) => {
      const layer = buildLayer(backend, i, shape, spec);
      this.layers.push(layer);
      this.slices.push(
        layer.paramShapes.map((s) => {
          const slice = { offset, shape: s, size: sizeOf(s) };
          offset += slice.size;
          return slice;
        }),
      );
      shape = layer.outShape;
    });
    if (shape.length !== 1) {
      throw new ShapeError(`network: the last layer's output ${fmt(shape)} must be flat [k]; end with flatten() or dense()`);
    }
    this.outShape = shape;
    this.paramCount = offset;
    this.params = allocate(backend.dtype, offset);
    this.init(options.seed ?? 1);
  }

  /** Fresh weights from the seeded generator. */
  init(seed: number): void {
    if (!Number.isInteger(seed)) throw new TypeError(`network.init: seed must be an integer, got ${String(seed)}`);
    const rng = new Rng(seed);
    this.layers.forEach((layer, i) => layer.init(this.hostSlices(this.params, i), rng));
  }

  /** Copies `p` (any array-like of finite numbers, converted to the network's dtype) into the parameters. */
  setParams(p: Numbers): void {
    checkNumbers('setParams', 'params', p);
    checkLength('setParams', 'params', p, this.paramCount, 'the network has');
    checkFinite('setParams', 'params', p);
    this.params.set(p);
  }

  /** Each parameter tensor's PyTorch name (`0.weight`, as nn.Sequential numbers it), shape and offset in `params`. */
  namedParameters(): NamedParameter[] {
    return layerTensors(this.layers).flatMap((l) => l.params);
  }

  /** The layers' non-trainable tensors (batch norm statistics) under their PyTorch names; live arrays. */
  namedBuffers(): LayerBuffer[] {
    return layerTensors(this.layers).flatMap((l) => l.buffers);
  }

  /** Copies of every parameter and buffer by PyTorch name, as `{shape, data}` in the network's dtype. */
  stateDict(): StateDict {
    return collectState(this.params, layerTensors(this.layers), this.backend.dtype);
  }

  /** Sets every parameter and buffer from `dict`; names must match exactly and shapes agree, or nothing changes. */
  loadStateDict(dict: StateDict): void {
    const t = layerTensors(this.layers);
    applyState(dict, this.params, t.flatMap((l) => l.params), t.flatMap((l) => l.buffers));
  }

  /** A table of the layers (options, output shape, parameter shapes and counts), the totals, dtype and backend. */
  summary(): string {
    return summaryTable(this);
  }

  /** One line: input → layer kinds → output, parameter count, dtype and backend. */
  toString(): string {
    return oneLine(this);
  }

  /** Frees every buffer the layers hold (device memory on the GPU backend); the network cannot be used afterwards. */
  dispose(): void {
    this.live.dispose();
    for (const layer of this.layers) layer.dispose();
  }

  /**
   * Outputs [n, k] for the n samples in `x` (any array-like, row-major [n, ...inShape]; n is
   * x.length / sample size unless given), evaluated in chunks of `chunk` samples.
   */
  predict(x: Numbers, n?: number, chunk = 256): FloatArray {
    const xs = toFloat('predict', 'x', x, this.backend.dtype);
    const size = sizeOf(this.inShape);
    const count = n ?? xs.length / size;
    if (!(Number.isInteger(count) && count >= 1) || xs.length !== count * size) {
      throw new ShapeError(
        n === undefined
          ? `predict: x has ${xs.length} values, not a whole number of samples of shape ${fmt(this.inShape)} (${size} values each)`
          : `predict: ${n} samples of shape ${fmt(this.inShape)} need ${n * size} values, x has ${xs.length}`,
      );
    }
    if (!(Number.isInteger(chunk) && chunk >= 1)) throw new RangeError(`predict: chunk must be a positive integer, got ${chunk}`);
    const k = this.outShape[0];
    const out = allocate(this.backend.dtype, count * k);
    for (let s = 0; s < count; s += chunk) {
      const e = Math.min(count, s + chunk);
      const z = this.forward({ x: xs.subarray(s * size, e * size), y: new Int32Array(0), n: e - s }, this.params);
      out.set(this.backend.download(z), s * k);
    }
    return out;
  }

  loss(batch: BatchLike): number {
    const b = toBatch(this.backend.dtype, 'loss', batch);
    const z = this.backend.download(this.forward(b, this.params));
    return this.lossFn.value(z, b.y, b.n, this.outShape[0]);
  }

  /** Writes the gradient of the mean batch loss into `grad` (Float32Array, Float64Array or number[]); returns the loss. */
  gradient(batch: BatchLike, grad: Output): number {
    const b = toBatch(this.backend.dtype, 'gradient', batch);
    const { buf, finish } = this.output('gradient', 'grad', grad);
    const z = this.forward(b, this.params);
    const k = this.outShape[0];
    const dz = new Float64Array(b.n * k);
    const loss = this.lossFn.value(this.backend.download(z), b.y, b.n, k, dz);
    buf.fill(0);
    this.scoped((s) => {
      const g = this.wrapLayers(buf, s);
      this.backward(s.upload([b.n, k], dz), g);
      s.writeBack(g);
    });
    finish();
    return loss;
  }

  curvature(batch: BatchLike): NetworkCurvature {
    const b = toBatch(this.backend.dtype, 'curvature', batch);
    const at = this.params.slice() as FloatArray;
    const k = this.outShape[0];
    let gen = -1;
    let z!: FloatArray;
    const dz = new Float64Array(b.n * k);
    const prepare = () => {
      if (gen === this.generation) return;
      z = this.backend.download(this.forward(b, at));
      this.lossFn.value(z, b.y, b.n, k, dz);
      gen = this.generation;
    };
    // H_L·R{z}: the loss Hessian at the outputs times J·v.
    const top = (Rz: Tensor | null): Float64Array => {
      const u = Rz ? this.backend.download(Rz) : new Float64Array(b.n * k);
      const hu = new Float64Array(b.n * k);
      this.lossFn.hessianVec(z, b.y, b.n, k, u, hu);
      return hu;
    };
    prepare();
    return {
      // Gv = Jᵀ H_L J v: R-forward to J·v at the outputs, H_L, then an ordinary backward pass.
      gv: (v, out) => {
        const { dir, buf, finish } = this.direction('gv', v, out);
        prepare();
        buf.fill(0);
        this.scoped((s) => {
          const g = this.wrapLayers(buf, s);
          this.backward(s.upload([b.n, k], top(this.rForward(this.wrapLayers(dir, s)))), g);
          s.writeBack(g);
        });
        finish();
      },
      // Hv: R-forward, R{dE/dz} = H_L·R{z} at the top, then the R-backward pass.
      hv: (v, out) => {
        const { dir, buf, finish } = this.direction('hv', v, out);
        prepare();
        buf.fill(0);
        this.scoped((s) => {
          const h = this.wrapLayers(buf, s);
          let Rdy = s.upload([b.n, k], top(this.rForward(this.wrapLayers(dir, s))));
          let dy = s.upload([b.n, k], dz);
          for (let i = this.layers.length - 1; i >= 0; i--) [dy, Rdy] = this.layers[i].rBackward(dy, Rdy, h[i]);
          s.writeBack(h);
        });
        finish();
      },
    };
  }

  sumSquaredGradients(batch: BatchLike, out: Output): void {
    const b = toBatch(this.backend.dtype, 'sumSquaredGradients', batch);
    const { buf, finish } = this.output('sumSquaredGradients', 'out', out);
    const g = allocate(this.backend.dtype, this.paramCount);
    buf.fill(0);
    for (let i = 0; i < b.n; i++) {
      this.gradient(sliceBatch(b, i, i + 1), g);
      for (let j = 0; j < buf.length; j++) buf[j] += g[j] * g[j];
    }
    for (let j = 0; j < buf.length; j++) buf[j] /= b.n;
    finish();
  }

  private output(where: string, what: string, out: Output) {
    return outputVector(where, what, out, this.paramCount, this.backend.dtype, 'the network has');
  }

  /** A direction v in the network's dtype and where its product goes. */
  private direction(where: string, v: Numbers, out: Output) {
    const dir = toFloat(where, 'v', v, this.backend.dtype);
    checkLength(where, 'v', dir, this.paramCount, 'the network has');
    return { dir, ...this.output(where, 'out', out) };
  }

  /** Runs the forward pass at `params`, leaving each layer's saved state for the later passes. */
  private forward(b: Batch, params: FloatArray): Tensor {
    this.checkBatch(b);
    this.live.dispose();
    const live = (this.live = new Scope(this.backend));
    const p = this.wrapLayers(params, live);
    const shape = [b.n, ...this.inShape];
    let x = live.add(this.backend.wrap(shape, b.x));
    for (let i = 0; i < this.layers.length; i++) x = this.layers[i].forward(x, p[i]);
    this.generation++;
    return x;
  }

  /** The backward pass from dE/dz at the outputs, adding into `grad`; the input gradient is skipped. */
  private backward(dz: Tensor, grad: Tensor[][]): void {
    let dy = dz;
    for (let i = this.layers.length - 1; i > 0; i--) dy = this.layers[i].backward(dy, grad[i]);
    this.layers[0].backwardParams(dy, grad[0]);
  }

  private rForward(V: Tensor[][]): Tensor | null {
    let Rx: Tensor | null = null;
    for (let i = 0; i < this.layers.length; i++) Rx = this.layers[i].rForward(Rx, V[i]);
    return Rx;
  }

  /** Runs `body` with a scope whose tensors are freed afterwards, even when it throws. */
  private scoped(body: (s: Scope) => void): void {
    const s = new Scope(this.backend);
    try {
      body(s);
    } finally {
      s.dispose();
    }
  }

  /** Tensors standing for each layer's slices of a flat vector (params, gradient, v, Hv or Gv). */
  private wrapLayers(vec: FloatArray, s: Scope): Tensor[][] {
    return this.slices.map((layer) => layer.map((sl) => s.add(this.backend.wrap(sl.shape, vec.subarray(sl.offset, sl.offset + sl.size)))));
  }

  private hostSlices(vec: FloatArray, layer: number): FloatArray[] {
    return this.slices[layer].map((s) => vec.subarray(s.offset, s.offset + s.size));
  }

  private checkBatch(b: Batch): void {
    const size = sizeOf(this.inShape);
    if (!Number.isInteger(b.n) || b.n < 1 || b.x.length !== b.n * size) {
      throw new ShapeError(
        `network input: a batch of ${b.n} samples of shape ${fmt(this.inShape)} needs ${b.n * size} values, got ${b.x.length}`,
      );
    }
    if (!this.checkInputs) return;
    checkFinite('network targets', 'batch.y', b.y);
    for (let i = 0; i < b.x.length; i++) {
      if (!Number.isFinite(b.x[i])) {
        throw new ShapeError(
          `network input: sample ${Math.floor(i / size)} of batch [${b.n}, ${this.inShape.join(', ')}] holds ${b.x[i]} at element ${i % size}`,
        );
      }
    }
  }
}
