/**
 * A sequence of layers built from one sample's input shape, with ONE flat parameter vector
 * (layers in order, each layer's weights then bias, PyTorch layouts). Gradients, directions v,
 * Hv and Gv share that layout. Implements the optimizers' Model interface.
 *
 * Modes (PyTorch's train()/eval(), fixed per method rather than switched): `loss`, `gradient`
 * and `curvature` run in training mode (batch statistics, dropout), `predict` and `evalLoss` in
 * evaluation mode (running statistics, no dropout). Only `gradient` updates running statistics.
 * Randomness: each sample's key is hash(seed, step, the sample's bytes). The step advances when
 * `gradient` sees a batch other than the last one it saw (or on `nextStep()`), so every pass of
 * one optimizer step, on the batch or a slice of it, sees the same dropout masks.
 */
import { checkFinite, checkLength, checkNumbers, outputVector, toFloat, type Numbers, type Output } from '../nd/arrays.js';
import { checkArguments, toBatch } from './arguments.js';
import type { Backend, Tensor } from '../nd/backend.js';
import { allocate, type FloatArray } from '../nd/dtype.js';
import type { Batch, BatchLike, Curvature, Model } from '../nd/model.js';
import { sliceBatch } from '../nd/model.js';
import { Rng, hash32, hashFloats } from '../nd/rng.js';
import { ShapeError, checkSizes, fmt, sizeOf, type Shape } from '../nd/shape.js';
import type { Layer, LayerBuffer, PassMode } from './layer.js';
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

/** What a network holds besides its parameters: the step its randomness is at, and layer buffers. */
export interface NetworkState {
  step: number;
  /** Identity of the batch the step belongs to (null before the first gradient pass). */
  batch: number | null;
  /** Buffers by PyTorch name (namedBuffers), e.g. "1.running_mean". */
  buffers: Record<string, number[]>;
}

const EVAL: PassMode = { training: false, updateStats: false, keys: null };

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
  private readonly seed: number;
  /** The randomness step and the identity of its batch (see the class comment). */
  private step = 0;
  private stepBatch: number | null = null;

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
    this.seed = options.seed ?? 1;
    this.init(this.seed);
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
      const z = this.forward({ x: xs.subarray(s * size, e * size), y: new Int32Array(0), n: e - s }, this.params, EVAL);
      out.set(this.backend.download(z), s * k);
    }
    return out;
  }

  /** Outputs [n, k] of one batch in training mode (batch statistics, this step's dropout masks). */
  trainOutputs(batch: BatchLike): FloatArray {
    const b = toBatch(this.backend.dtype, 'trainOutputs', batch);
    return this.backend.download(this.forward(b, this.params, this.training(b, false)));
  }

  /** Mean loss in training mode (batch statistics, this step's dropout masks). */
  loss(batch: BatchLike): number {
    const b = toBatch(this.backend.dtype, 'loss', batch);
    const z = this.backend.download(this.forward(b, this.params, this.training(b, false)));
    return this.lossFn.value(z, b.y, b.n, this.outShape[0]);
  }

  /** Mean loss in evaluation mode (running statistics, no dropout): held-out and reported losses. */
  evalLoss(batch: BatchLike): number {
    const b = toBatch(this.backend.dtype, 'evalLoss', batch);
    const z = this.backend.download(this.forward(b, this.params, EVAL));
    return this.lossFn.value(z, b.y, b.n, this.outShape[0]);
  }

  /**
   * Writes the gradient of the mean batch loss into `grad` (Float32Array, Float64Array or number[]); returns the loss.
   * Training mode; a batch other than the previous one starts a new step; updates running statistics.
   */
  gradient(batch: BatchLike, grad: Output): number {
    const b = toBatch(this.backend.dtype, 'gradient', batch);
    const id = batchId(b);
    if (id !== this.stepBatch) [this.step, this.stepBatch] = [this.step + 1, id];
    return this.gradientIn(b, grad, this.training(b, true));
  }

  /** Starts a new randomness step (new dropout masks) even if the next batch is the same. */
  nextStep(): void {
    [this.step, this.stepBatch] = [this.step + 1, null];
  }

  /** The randomness step and copies of the buffers (for checkpoints; stateDict() carries buffers too). */
  state(): NetworkState {
    const buffers: Record<string, number[]> = {};
    for (const b of this.namedBuffers()) buffers[b.name] = Array.from(b.data);
    return { step: this.step, batch: this.stepBatch, buffers };
  }

  /** Restores state(); every buffer of the network must be present with its length. */
  loadState(s: NetworkState): void {
    if (!Number.isInteger(s?.step) || s.step < 0 || !(s.batch === null || Number.isInteger(s.batch)) || typeof s.buffers !== 'object' || !s.buffers) {
      throw new Error('network state should be {step, batch, buffers}');
    }
    const named = this.namedBuffers();
    for (const b of named) {
      const v = s.buffers[b.name];
      if (!Array.isArray(v) || v.length !== b.data.length || !v.every(Number.isFinite)) {
        throw new Error(`network state: buffer '${b.name}' should be ${b.data.length} finite numbers`);
      }
    }
    const extra = Object.keys(s.buffers).filter((k) => !named.some((b) => b.name === k));
    if (extra.length) throw new Error(`network state: buffers ${extra.join(', ')} belong to no layer of this network`);
    for (const b of named) b.data.set(s.buffers[b.name]);
    [this.step, this.stepBatch] = [s.step, s.batch];
  }

  private gradientIn(b: Batch, grad: Output, mode: PassMode): number {
    const { buf, finish } = this.output('gradient', 'grad', grad);
    const z = this.forward(b, this.params, mode);
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
      z = this.backend.download(this.forward(b, at, this.training(b, false)));
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
      // Per-sample passes neither start a step nor touch the running statistics.
      const one = sliceBatch(b, i, i + 1);
      this.gradientIn(one, g, this.training(one, false));
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
  private forward(b: Batch, params: FloatArray, mode: PassMode): Tensor {
    this.checkBatch(b);
    this.live.dispose();
    const live = (this.live = new Scope(this.backend));
    const p = this.wrapLayers(params, live);
    const shape = [b.n, ...this.inShape];
    let x = live.add(this.backend.wrap(shape, b.x));
    for (let i = 0; i < this.layers.length; i++) x = this.layers[i].forward(x, p[i], mode);
    this.generation++;
    return x;
  }

  /** The backward pass from dE/dz at the outputs, adding into `grad`; the input gradient is skipped. */
  private backward(dz: Tensor, grad: Tensor[][]): void {
    let dy = dz;
    for (let i = this.layers.length - 1; i > 0; i--) dy = this.layers[i].backward(dy, grad[i]);
    this.layers[0].backwardParams(dy, grad[0]);
  }

  /** Training mode with this step's per-sample keys. */
  private training(b: Batch, updateStats: boolean): PassMode {
    if (!Number.isInteger(b.n) || b.n < 1) return { training: true, updateStats, keys: null }; // forward rejects it
    const size = b.x.length / b.n;
    const step = hash32(this.seed, this.step);
    const keys = new Uint32Array(b.n);
    for (let i = 0; i < b.n; i++) keys[i] = hashFloats(b.x.subarray(i * size, (i + 1) * size), step);
    return { training: true, updateStats, keys };
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

/** A batch's identity: a hash of its inputs' bytes and its size. */
function batchId(b: Batch): number {
  return hash32(hashFloats(b.x, 0x51ed27), b.n);
}
