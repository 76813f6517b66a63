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
import type { Backend, Tensor } from '../nd/backend.js';
import { allocate, dtypeOf, type FloatArray } from '../nd/dtype.js';
import type { Batch, Curvature, Model } from '../nd/model.js';
import { sliceBatch } from '../nd/model.js';
import { Rng, hash32, hashFloats } from '../nd/rng.js';
import { ShapeError, checkSizes, fmt, sizeOf, type Shape } from '../nd/shape.js';
import type { Layer, PassMode } from './layer.js';
import { losses, type Loss, type LossName } from './loss.js';
import { buildLayer, type LayerSpec } from './registry.js';

export interface NetworkOptions {
  loss?: LossName;
  /** Seed for the initial weights (Glorot/He); default 1. */
  seed?: number;
  /** Reject inputs holding NaN or ±Infinity with an error naming the sample (default true). */
  checkInputs?: boolean;
}

/** What a network holds besides its parameters: the step its randomness is at, and layer buffers. */
export interface NetworkState {
  step: number;
  /** Identity of the batch the step belongs to (null before the first gradient pass). */
  batch: number | null;
  /** Buffers by PyTorch-style name, "<layer index>.<buffer>", e.g. "1.running_mean". */
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
    const lossName = options.loss ?? 'softmax-cross-entropy';
    this.lossFn = losses[lossName];
    if (!this.lossFn) throw new Error(`network: unknown loss '${lossName}' (known: ${Object.keys(losses).join(', ')})`);
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
    const rng = new Rng(seed);
    this.layers.forEach((layer, i) => layer.init(this.hostSlices(this.params, i), rng));
  }

  setParams(p: ArrayLike<number>): void {
    if (p.length !== this.paramCount) {
      throw new ShapeError(`network: ${p.length} parameters given, the network has ${this.paramCount}`);
    }
    this.params.set(p);
  }

  /** Frees every buffer the layers hold (device memory on the GPU backend); the network cannot be used afterwards. */
  dispose(): void {
    this.live.dispose();
    for (const layer of this.layers) layer.dispose();
  }

  /** Outputs [n, k] for n samples, evaluated in chunks of `chunk` samples. */
  predict(x: FloatArray, n: number, chunk = 256): FloatArray {
    const k = this.outShape[0];
    const out = allocate(this.backend.dtype, n * k);
    const size = sizeOf(this.inShape);
    for (let s = 0; s < n; s += chunk) {
      const e = Math.min(n, s + chunk);
      const z = this.forward({ x: x.subarray(s * size, e * size), y: new Int32Array(0), n: e - s }, this.params, EVAL);
      out.set(this.backend.download(z), s * k);
    }
    return out;
  }

  /** Outputs [n, k] of one batch in training mode (batch statistics, this step's dropout masks). */
  trainOutputs(b: Batch): FloatArray {
    return this.backend.download(this.forward(b, this.params, this.training(b, false)));
  }

  /** Mean loss in training mode (batch statistics, this step's dropout masks). */
  loss(b: Batch): number {
    const z = this.backend.download(this.forward(b, this.params, this.training(b, false)));
    return this.lossFn.value(z, b.y, b.n, this.outShape[0]);
  }

  /** Mean loss in evaluation mode (running statistics, no dropout): held-out and reported losses. */
  evalLoss(b: Batch): number {
    const z = this.backend.download(this.forward(b, this.params, EVAL));
    return this.lossFn.value(z, b.y, b.n, this.outShape[0]);
  }

  /** Training-mode gradient; a batch other than the previous one starts a new step; updates running statistics. */
  gradient(b: Batch, grad: FloatArray): number {
    const id = batchId(b);
    if (id !== this.stepBatch) [this.step, this.stepBatch] = [this.step + 1, id];
    return this.gradientIn(b, grad, this.training(b, true));
  }

  /** Starts a new randomness step (new dropout masks) even if the next batch is the same. */
  nextStep(): void {
    [this.step, this.stepBatch] = [this.step + 1, null];
  }

  state(): NetworkState {
    const buffers: Record<string, number[]> = {};
    this.layers.forEach((l, i) => {
      for (const [name, v] of Object.entries(l.buffers ?? {})) buffers[`${i}.${name}`] = Array.from(v);
    });
    return { step: this.step, batch: this.stepBatch, buffers };
  }

  /** Restores state(); every buffer of the network must be present with its length. */
  loadState(s: NetworkState): void {
    if (!Number.isInteger(s?.step) || s.step < 0 || !(s.batch === null || Number.isInteger(s.batch)) || typeof s.buffers !== 'object') {
      throw new Error('network state should be {step, batch, buffers}');
    }
    const want = this.state().buffers;
    for (const key of Object.keys(want)) {
      const v = s.buffers[key];
      if (!Array.isArray(v) || v.length !== want[key].length || !v.every(Number.isFinite)) {
        throw new Error(`network state: buffer '${key}' should be ${want[key].length} finite numbers`);
      }
    }
    const extra = Object.keys(s.buffers).filter((k) => !(k in want));
    if (extra.length) throw new Error(`network state: buffers ${extra.join(', ')} belong to no layer of this network`);
    this.layers.forEach((l, i) => {
      for (const [name, v] of Object.entries(l.buffers ?? {})) v.set(s.buffers[`${i}.${name}`]);
    });
    [this.step, this.stepBatch] = [s.step, s.batch];
  }

  private gradientIn(b: Batch, grad: FloatArray, mode: PassMode): number {
    const z = this.forward(b, this.params, mode);
    const k = this.outShape[0];
    const dz = new Float64Array(b.n * k);
    const loss = this.lossFn.value(this.backend.download(z), b.y, b.n, k, dz);
    grad.fill(0);
    this.scoped((s) => {
      const g = this.wrapLayers(grad, s);
      this.backward(s.upload([b.n, k], dz), g);
      s.writeBack(g);
    });
    return loss;
  }

  curvature(b: Batch): Curvature {
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
        prepare();
        out.fill(0);
        this.scoped((s) => {
          const g = this.wrapLayers(out, s);
          this.backward(s.upload([b.n, k], top(this.rForward(this.wrapLayers(v, s)))), g);
          s.writeBack(g);
        });
      },
      // Hv: R-forward, R{dE/dz} = H_L·R{z} at the top, then the R-backward pass.
      hv: (v, out) => {
        prepare();
        out.fill(0);
        this.scoped((s) => {
          const h = this.wrapLayers(out, s);
          let Rdy = s.upload([b.n, k], top(this.rForward(this.wrapLayers(v, s))));
          let dy = s.upload([b.n, k], dz);
          for (let i = this.layers.length - 1; i >= 0; i--) [dy, Rdy] = this.layers[i].rBackward(dy, Rdy, h[i]);
          s.writeBack(h);
        });
      },
    };
  }

  sumSquaredGradients(b: Batch, out: FloatArray): void {
    const g = allocate(this.backend.dtype, this.paramCount);
    out.fill(0);
    for (let i = 0; i < b.n; i++) {
      // Per-sample passes neither start a step nor touch the running statistics.
      const one = sliceBatch(b, i, i + 1);
      this.gradientIn(one, g, this.training(one, false));
      for (let j = 0; j < out.length; j++) out[j] += g[j] * g[j];
    }
    for (let j = 0; j < out.length; j++) out[j] /= b.n;
  }

  /** Runs the forward pass at `params`, leaving each layer's saved state for the later passes. */
  private forward(b: Batch, params: FloatArray, mode: PassMode): Tensor {
    this.checkBatch(b);
    this.live.dispose();
    const live = (this.live = new Scope(this.backend));
    const p = this.wrapLayers(params, live);
    const shape = [b.n, ...this.inShape];
    let x = dtypeOf(b.x) === this.backend.dtype ? live.add(this.backend.wrap(shape, b.x)) : live.upload(shape, b.x);
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
    for (let i = 0; i < b.x.length; i++) {
      if (!Number.isFinite(b.x[i])) {
        throw new ShapeError(
          `network input: sample ${Math.floor(i / size)} of batch [${b.n}, ${this.inShape.join(', ')}] holds ${b.x[i]} at element ${i % size}`,
        );
      }
    }
  }
}

/** Tensors that live together and are released together (device memory on the GPU backend). */
class Scope {
  private readonly owned: Tensor[] = [];

  constructor(private readonly backend: Backend) {}

  add(t: Tensor): Tensor {
    this.owned.push(t);
    return t;
  }

  upload(shape: Shape, data: ArrayLike<number>): Tensor {
    return this.add(this.backend.upload(shape, data));
  }

  /** Copies device writes back into the wrapped host vectors. */
  writeBack(wrapped: Tensor[][]): void {
    for (const layer of wrapped) for (const t of layer) this.backend.writeBack(t);
  }

  dispose(): void {
    for (const t of this.owned) this.backend.dispose(t);
    this.owned.length = 0;
  }
}

/** A batch's identity: a hash of its inputs' bytes and its size. */
function batchId(b: Batch): number {
  return hash32(hashFloats(b.x, 0x51ed27), b.n);
}
