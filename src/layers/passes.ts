/**
 * A network's passes on one thread: its layers and flat parameter vector (layers in order, each
 * layer's weights then bias, PyTorch layouts), the forward, backward, R-forward and R-backward
 * passes composed into losses, gradients, Gv/Hv products and Kronecker factors on a batch.
 * Nothing here knows a thread: src/network/network.ts (the public Network) runs these passes on
 * the whole batch, or src/parallel splits the batch and runs them on each share, in worker
 * replicas built from the same class. What a split pass needs of a layer is in PassMode
 * (`reduce`, for batch sums).
 *
 * Every pass is a generator with read points (reads.ts): it yields the tensors it must see on
 * the host. runSync answers them at once (CPU, gpu.js), runAsync awaits a backend whose reads
 * resolve later (WebGPU); same calls in the same order either way.
 *
 * A pass takes the randomness step its dropout masks belong to as an argument (`training`),
 * so every replica draws the masks the caller's step asks for; the step itself is the Network's.
 */
import { readsAsync, type Backend, type Tensor } from '../nd/backend.js';
import { allocate, type DType, type FloatArray } from '../nd/dtype.js';
import type { Batch, FactorOptions } from '../nd/model.js';
import { sliceBatch } from '../nd/model.js';
import { Rng, hash32, hashFloats } from '../nd/rng.js';
import { ShapeError, checkSizes, fmt, sizeOf, type Shape } from '../nd/shape.js';
import { KroneckerSink, layerBackward, outputColumns, sequenceInput } from './kronecker.js';
import type { Layer, LayerBuffer, PassMode } from './layer.js';
import { SizeBudget, type NetworkLimits } from './limits.js';
import { losses, type Loss, type LossName } from './loss.js';
import { layerTensors, type NamedParameter } from './naming.js';
import { read, runSync, type Reads } from './reads.js';
import { buildLayer, type LayerSpec } from './registry.js';
import { Scope } from './scope.js';

/** What the passes are built with (the public NetworkOptions adds input checks and threads). */
export interface PassOptions {
  loss?: LossName;
  /** Seed for the initial weights (Glorot/He) and dropout's masks; default 1. */
  seed?: number;
  /** Size limits checked as the layers are built (limits.ts); none for a replica, whose network checked them. */
  limits?: NetworkLimits;
}

/** Sums a float64 vector over every share of a split batch, in place (see PassMode.reduce). */
export type Reduce = NonNullable<PassMode['reduce']>;

/** Evaluation mode: running statistics, no dropout. */
export const EVAL: PassMode = { training: false, updateStats: false, keys: null };

interface Slice {
  offset: number;
  shape: Shape;
  size: number;
}

export class NetworkPasses {
  readonly layers: Layer[] = [];
  readonly outShape: Shape;
  readonly paramCount: number;
  readonly params: FloatArray;
  readonly lossFn: Loss;
  readonly lossName: LossName;
  private readonly slices: Slice[][] = [];
  /** Whether a layer draws randomness (dropout): the per-sample keys are hashed only then. */
  protected readonly random: boolean;
  /** Counts forward passes, so a Curvature knows when the layers' saved state is no longer its own. */
  private generation = 0;
  /** The input and parameter tensors of the latest forward pass, which later passes still read. */
  private live: Scope;
  /** The seed of the initial weights and of dropout's masks. */
  readonly seed: number;

  /**
   * `memory`: a FloatArray is the parameter vector, used and left as it is (a replica's view of
   * the caller's parameters); an allocator makes a fresh one (shared memory, for a network whose
   * replicas read it), which gets initial weights from the seed.
   */
  constructor(
    readonly backend: Backend,
    readonly inShape: Shape,
    readonly specs: readonly LayerSpec[],
    options: PassOptions = {},
    memory: FloatArray | ((dtype: DType, length: number) => FloatArray) = allocate,
  ) {
    this.lossName = options.loss ?? 'softmax-cross-entropy';
    if (!Object.prototype.hasOwnProperty.call(losses, this.lossName)) {
      throw new Error(`network: unknown loss '${this.lossName}' (known: ${Object.keys(losses).join(', ')})`);
    }
    this.lossFn = losses[this.lossName];
    this.live = new Scope(backend);
    checkSizes('network', 'input sizes', inShape);
    if (specs.length === 0) throw new ShapeError('network: no layers given');
    const budget = options.limits && new SizeBudget(options.limits, inShape);
    let shape = inShape;
    let offset = 0;
    specs.forEach((spec, i) => {
      const layer = buildLayer(backend, i, shape, spec, undefined, budget);
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
    this.random = drawsRandomness(specs);
    this.paramCount = offset;
    this.params = typeof memory === 'function' ? memory(backend.dtype, offset) : memory;
    this.seed = options.seed ?? 1;
    if (typeof memory === 'function') this.init(this.seed);
  }

  /** Fresh weights from the seeded generator. */
  init(seed: number): void {
    if (!Number.isInteger(seed)) throw new TypeError(`network.init: seed must be an integer, got ${String(seed)}`);
    const rng = new Rng(seed);
    this.layers.forEach((layer, i) => layer.init(this.hostSlices(this.params, i), rng));
  }

  /** Each parameter tensor's PyTorch name (`0.weight`, as nn.Sequential numbers it), shape and offset in `params`. */
  namedParameters(): NamedParameter[] {
    return layerTensors(this.layers).flatMap((l) => l.params);
  }

  /** The layers' non-trainable tensors (batch norm statistics) under their PyTorch names; live arrays. */
  namedBuffers(): LayerBuffer[] {
    return layerTensors(this.layers).flatMap((l) => l.buffers);
  }

  /** Frees every buffer the layers hold (device memory on the GPU backend); the network cannot be used afterwards. */
  dispose(): void {
    this.live.dispose();
    for (const layer of this.layers) layer.dispose();
  }

  /** @internal `weight` × the mean loss of `b` in `mode`. */
  *lossOn(b: Batch, mode: PassMode, weight: number): Reads<number> {
    const z = yield* read(yield* this.forward(b, this.params, mode));
    return this.lossFn.value(z, b.y, b.n, this.outShape[0]) * weight;
  }

  /** @internal The outputs of `b` in `mode` into `out` (rows [n, k]). */
  *outputsOn(b: Batch, mode: PassMode, out: FloatArray): Reads<void> {
    out.set(yield* read(yield* this.forward(b, this.params, mode)));
  }

  /** @internal Folds `b`'s batch statistics into the running ones as a plain average (recomputeStatistics). */
  *statisticsOn(b: Batch, step: number, reduce: Reduce | null): Reads<void> {
    yield* this.forward(b, this.params, { ...this.training(b, step, true, reduce), cumulative: true });
  }

  /** @internal The loss and its gradient (into buf) of `weight` × the batch's mean loss. */
  *gradientOn(b: Batch, buf: FloatArray, mode: PassMode, weight: number): Reads<number> {
    const z = yield* this.forward(b, this.params, mode);
    const k = this.outShape[0];
    const dz = new Float64Array(b.n * k);
    const loss = this.lossFn.value(yield* read(z), b.y, b.n, k, dz) * weight;
    scaleBy(dz, weight);
    buf.fill(0);
    const self = this;
    yield* this.scoped(function* (s) {
      const g = self.wrapLayers(buf, s);
      yield* self.backward(s.upload([b.n, k], dz), g);
      yield* self.writeBack(s, g, buf);
    });
    return loss;
  }

  /**
   * @internal K-FAC (kronecker.ts): the raw factor sums of `b` (the caller normalises them)
   * after one forward pass, and, into `grad` when given, the gradient of `weight` × its mean
   * loss; returns that weighted loss. 'empirical' reuses the gradient's own backward pass (its
   * columns are dE/dz = dℓ_n/dz · weight/n, so its G sums carry that factor squared).
   */
  *kroneckerOn(b: Batch, options: FactorOptions, grad: FloatArray | null, mode: PassMode, weight = 1): Reads<{ loss: number; sink: KroneckerSink }> {
    const z = yield* read(yield* this.forward(b, this.params, mode));
    const k = this.outShape[0];
    const dz = new Float64Array(b.n * k);
    const loss = this.lossFn.value(z, b.y, b.n, k, dz) * weight;
    scaleBy(dz, weight);
    const sink = new KroneckerSink();
    sequenceInput(this.layers, 0, sink);
    grad?.fill(0);
    const self = this;
    yield* this.scoped(function* (s) {
      const g = grad ? self.wrapLayers(grad, s) : null;
      const column = (col: Float64Array, into: Tensor[][] | null) => {
        let dy = s.upload([b.n, k], col);
        for (let i = self.layers.length - 1; i > 0; i--) dy = layerBackward(self.layers[i], dy, sink, into && into[i], true)!;
        layerBackward(self.layers[0], dy, sink, into && into[0], false);
      };
      if (options.kind === 'empirical') column(dz, g);
      else {
        if (g) yield* self.backward(s.upload([b.n, k], dz), g);
        const seed = hash32(options.seed ?? 1, 0x6b666163);
        const size = b.x.length / b.n;
        const keys = Uint32Array.from({ length: b.n }, (_, i) => hashFloats(b.x.subarray(i * size, (i + 1) * size), seed));
        for (const col of outputColumns(options.kind, self.lossFn, z, b.y, b.n, k, keys, options.samples ?? 1)) column(col, null);
      }
      if (g) yield* self.writeBack(s, g, grad!);
    });
    return { loss, sink };
  }

  /**
   * @internal Gv and Hv of `weight` × the mean loss of `b` at parameters `at`. The forward pass
   * they start from is redone when a product is asked `fresh` (stale(): another pass ran since).
   */
  *curvatureOn(b: Batch, at: FloatArray, mode: PassMode, weight: number): Reads<ShardCurvature> {
    const k = this.outShape[0];
    let gen = -1;
    let z!: FloatArray;
    const dz = new Float64Array(b.n * k);
    const self = this;
    function* prepare(fresh: boolean): Reads<void> {
      if (!fresh) return;
      z = yield* read(yield* self.forward(b, at, mode));
      self.lossFn.value(z, b.y, b.n, k, dz);
      scaleBy(dz, weight);
      gen = self.generation;
    }
    // H_L·R{z}: the loss Hessian at the outputs times J·v.
    function* top(Rz: Tensor | null): Reads<Float64Array> {
      const u = Rz ? yield* read(Rz) : new Float64Array(b.n * k);
      const hu = new Float64Array(b.n * k);
      self.lossFn.hessianVec(z, b.y, b.n, k, u, hu);
      return scaleBy(hu, weight);
    }
    // Gv = Jᵀ H_L J v: R-forward to J·v at the outputs, H_L, then an ordinary backward pass.
    function* gv(dir: FloatArray, buf: FloatArray, fresh: boolean): Reads<void> {
      yield* prepare(fresh);
      buf.fill(0);
      yield* self.scoped(function* (s) {
        const g = self.wrapLayers(buf, s);
        yield* self.backward(s.upload([b.n, k], yield* top(yield* self.rForward(self.wrapLayers(dir, s)))), g);
        yield* self.writeBack(s, g, buf);
      });
    }
    // Hv: R-forward, R{dE/dz} = H_L·R{z} at the top, then the R-backward pass.
    function* hv(dir: FloatArray, buf: FloatArray, fresh: boolean): Reads<void> {
      yield* prepare(fresh);
      buf.fill(0);
      yield* self.scoped(function* (s) {
        const h = self.wrapLayers(buf, s);
        let Rdy = s.upload([b.n, k], yield* top(yield* self.rForward(self.wrapLayers(dir, s))));
        let dy = s.upload([b.n, k], dz);
        for (let i = self.layers.length - 1; i > 0; i--) {
          const l = self.layers[i];
          [dy, Rdy] = l.rBackwardReads ? yield* l.rBackwardReads(dy, Rdy, h[i]) : l.rBackward(dy, Rdy, h[i]);
        }
        // Nobody reads the input's gradients: a first conv or dense layer skips them (three input-gradient passes).
        const first = self.layers[0];
        if (first.rBackwardReads) yield* first.rBackwardReads(dy, Rdy, h[0]);
        else if (first.rBackwardParams) first.rBackwardParams(dy, Rdy, h[0]);
        else first.rBackward(dy, Rdy, h[0]);
        yield* self.writeBack(s, h, buf);
      });
    }
    yield* prepare(true);
    return {
      stale: () => gen !== this.generation,
      gv: (dir, buf, fresh) => runSync(this.backend, gv(dir, buf, fresh)),
      hv: (dir, buf, fresh) => runSync(this.backend, hv(dir, buf, fresh)),
      gvReads: gv,
      hvReads: hv,
    };
  }

  /** @internal Σ over the samples of `b` of each one's gradient squared, into buf. */
  *squaredGradientsOn(b: Batch, buf: FloatArray, step: number): Reads<void> {
    const g = allocate(this.backend.dtype, this.paramCount);
    buf.fill(0);
    for (let i = 0; i < b.n; i++) {
      // Per-sample passes neither start a step nor touch the running statistics.
      const one = sliceBatch(b, i, i + 1);
      yield* this.gradientOn(one, g, this.training(one, step, false), 1);
      for (let j = 0; j < buf.length; j++) buf[j] += g[j] * g[j];
    }
  }

  /** Runs the forward pass at `params`, leaving each layer's saved state for the later passes. */
  private *forward(b: Batch, params: FloatArray, mode: PassMode): Reads<Tensor> {
    // The values were checked by the caller, once for the whole batch before any split.
    const size = sizeOf(this.inShape);
    if (!Number.isInteger(b.n) || b.n < 1 || b.x.length !== b.n * size) {
      throw new ShapeError(`network input: a batch of ${b.n} samples of shape ${fmt(this.inShape)} needs ${b.n * size} values, got ${b.x.length}`);
    }
    this.live.dispose();
    const live = (this.live = new Scope(this.backend));
    const p = this.wrapLayers(params, live);
    const shape = [b.n, ...this.inShape];
    let x = live.add(this.backend.wrap(shape, b.x));
    for (let i = 0; i < this.layers.length; i++) {
      const l = this.layers[i];
      x = l.forwardReads ? yield* l.forwardReads(x, p[i], mode) : l.forward(x, p[i], mode);
    }
    this.generation++;
    return x;
  }

  /** The backward pass from dE/dz at the outputs, adding into `grad`; the input gradient is skipped. */
  private *backward(dz: Tensor, grad: Tensor[][]): Reads<void> {
    let dy = dz;
    for (let i = this.layers.length - 1; i > 0; i--) {
      const l = this.layers[i];
      dy = l.backwardReads ? yield* l.backwardReads(dy, grad[i]) : l.backward(dy, grad[i]);
    }
    const first = this.layers[0];
    if (first.backwardParamsReads) yield* first.backwardParamsReads(dy, grad[0]);
    else first.backwardParams(dy, grad[0]);
  }

  /** @internal Training mode with the per-sample keys of randomness step `step`. */
  training(b: Batch, step: number, updateStats: boolean, reduce: Reduce | null = null): PassMode {
    // forward rejects a bad n; without dropout no layer reads the keys, and hashing every sample's bytes costs ~4 % of a LeNet step.
    if (!Number.isInteger(b.n) || b.n < 1 || !this.random) return reduce ? { training: true, updateStats, keys: null, reduce } : { training: true, updateStats, keys: null };
    const size = b.x.length / b.n;
    const salt = hash32(this.seed, step);
    const keys = new Uint32Array(b.n);
    for (let i = 0; i < b.n; i++) keys[i] = hashFloats(b.x.subarray(i * size, (i + 1) * size), salt);
    return reduce ? { training: true, updateStats, keys, reduce } : { training: true, updateStats, keys };
  }

  private *rForward(V: Tensor[][]): Reads<Tensor | null> {
    let Rx: Tensor | null = null;
    for (let i = 0; i < this.layers.length; i++) {
      const l = this.layers[i];
      Rx = l.rForwardReads ? yield* l.rForwardReads(Rx, V[i]) : l.rForward(Rx, V[i]);
    }
    return Rx;
  }

  /** Runs `body` with a scope whose tensors are freed afterwards, even when it throws. */
  private *scoped(body: (s: Scope) => Reads<void>): Reads<void> {
    const s = new Scope(this.backend);
    try {
      yield* body(s);
    } finally {
      s.dispose();
    }
  }

  /**
   * The device writes of `wrapped` (wrapLayers of `vec`) copied into `vec`: a read point only on
   * a backend that reads asynchronously; elsewhere the backend's own writeBack (none on the CPU).
   */
  private *writeBack(s: Scope, wrapped: Tensor[][], vec: FloatArray): Reads<void> {
    if (!readsAsync(this.backend)) return s.writeBack(wrapped);
    const values = yield wrapped.flat();
    let j = 0;
    for (const layer of this.slices) for (const sl of layer) vec.set(values[j++], sl.offset);
  }

  /** Tensors standing for each layer's slices of a flat vector (params, gradient, v, Hv or Gv). */
  private wrapLayers(vec: FloatArray, s: Scope): Tensor[][] {
    return this.slices.map((layer) => layer.map((sl) => s.add(this.backend.wrap(sl.shape, vec.subarray(sl.offset, sl.offset + sl.size)))));
  }

  private hostSlices(vec: FloatArray, layer: number): FloatArray[] {
    return this.slices[layer].map((s) => vec.subarray(s.offset, s.offset + s.size));
  }
}

/** Gv and Hv products on one batch, or one share of it (see curvatureOn). */
export interface ShardCurvature {
  stale(): boolean;
  gv(dir: FloatArray, out: FloatArray, fresh: boolean): void;
  hv(dir: FloatArray, out: FloatArray, fresh: boolean): void;
  /** gv and hv with their read points (reads.ts), for backends that read back asynchronously. */
  gvReads(dir: FloatArray, out: FloatArray, fresh: boolean): Reads<void>;
  hvReads(dir: FloatArray, out: FloatArray, fresh: boolean): Reads<void>;
}

function drawsRandomness(specs: readonly LayerSpec[]): boolean {
  return specs.some((s) => s.kind === 'dropout' || (s.kind === 'residual' && drawsRandomness(s.body)));
}

function scaleBy(v: Float64Array, weight: number): Float64Array {
  if (weight !== 1) for (let i = 0; i < v.length; i++) v[i] *= weight;
  return v;
}
