/**
 * A network's passes on one thread: its layers and flat parameter vector (see network.ts), the
 * forward, backward and R-forward passes, gradients, Gv and Hv products, and `shard`, the part
 * of a pass one thread computes on its share of a batch (src/parallel). Network adds the public
 * API on top: argument checks, output conversion, state, and the split over threads.
 */
import { checkFinite } from '../nd/arrays.js';
import { checkArguments } from './arguments.js';
import { readsAsync, type AsyncReads, type Backend, type Tensor } from '../nd/backend.js';
import { allocate, allocateShared, type FloatArray } from '../nd/dtype.js';
import type { Batch, FactorOptions } from '../nd/model.js';
import { sliceBatch } from '../nd/model.js';
import { Rng, hash32, hashFloats } from '../nd/rng.js';
import { ShapeError, checkSizes, fmt, sizeOf, type Shape } from '../nd/shape.js';
import { KroneckerSink, layerBackward, outputColumns, sequenceInput } from './kronecker.js';
import type { Layer, PassMode } from './layer.js';
import { SizeBudget, type NetworkLimits } from './limits.js';
import { losses, type Loss, type LossName } from './loss.js';
import { buildLayer, type LayerSpec } from './registry.js';
import { Scope } from './scope.js';
import { read, runAsync, runSync, type Reads } from './reads.js';
import { resolveThreads, type Job, type Reduce } from '../parallel/team.js';

export interface NetworkOptions {
  loss?: LossName;
  /** Seed for the initial weights (Glorot/He); default 1. */
  seed?: number;
  /** Reject inputs holding NaN or ±Infinity with an error naming the sample (default true). */
  checkInputs?: boolean;
  /**
   * Threads each pass splits its batch over (CPU backend only): default $NDCNN_THREADS, else 1.
   * Results are deterministic for a given count; counts differ in the order of float sums.
   */
  threads?: number;
  /** Size limits checked while the network is built (limits.ts); default DEFAULT_LIMITS. */
  limits?: Partial<NetworkLimits>;
}

const EVAL: PassMode = { training: false, updateStats: false, keys: null };

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
  private readonly checkInputs: boolean;
  /** Whether a layer draws randomness (dropout): the per-sample keys are hashed only then. */
  protected readonly random: boolean;
  /** Counts forward passes, so a Curvature knows when the layers' saved state is no longer its own. */
  private generation = 0;
  /** The input and parameter tensors of the latest forward pass, which later passes still read. */
  protected live: Scope;
  /** The seed of the initial weights and of dropout's masks. */
  readonly seed: number;
  /** The randomness step (network.ts's class comment). */
  protected step = 0;
  /** Threads each pass splits its batch over (NetworkOptions.threads). */
  readonly threads: number;
  /** A replica's curvature shares by id (see shard). */
  private readonly curvatures = new Map<number, ShardCurvature>();

  constructor(
    readonly backend: Backend,
    readonly inShape: Shape,
    readonly specs: readonly LayerSpec[],
    options: NetworkOptions = {},
    memory?: FloatArray,
  ) {
    const limits = checkArguments(inShape, specs, options, memory !== undefined);
    this.lossName = options.loss ?? 'softmax-cross-entropy';
    if (!Object.prototype.hasOwnProperty.call(losses, this.lossName)) {
      throw new Error(`network: unknown loss '${this.lossName}' (known: ${Object.keys(losses).join(', ')})`);
    }
    this.lossFn = losses[this.lossName];
    this.checkInputs = options.checkInputs ?? true;
    this.live = new Scope(backend);
    checkSizes('network', 'input sizes', inShape);
    if (specs.length === 0) throw new ShapeError('network: no layers given');
    const budget = new SizeBudget(limits, inShape);
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
    this.threads = memory ? 1 : resolveThreads(options.threads, backend);
    this.params = memory ?? (this.threads > 1 ? allocateShared(backend.dtype, offset) : allocate(backend.dtype, offset));
    this.seed = options.seed ?? 1;
    if (!memory) this.init(this.seed);
  }

  /** Fresh weights from the seeded generator. */
  init(seed: number): void {
    if (!Number.isInteger(seed)) throw new TypeError(`network.init: seed must be an integer, got ${String(seed)}`);
    const rng = new Rng(seed);
    this.layers.forEach((layer, i) => layer.init(this.hostSlices(this.params, i), rng));
  }

  /**
   * @internal One thread's part of a pass (src/parallel): `b` is its share of the batch, `weight`
   * the share's fraction of the batch (its mean loss counts that much), `reduce` sums batch
   * statistics over the threads (null: the batch is all here). Vector results go to `out`;
   * returns the share's weighted loss (0 for passes without one).
   */
  shard(job: Job, b: Batch, out: FloatArray | null, reduce: Reduce | null): number {
    return runSync(this.backend, this.shardReads(job, b, out, reduce));
  }

  /** @internal shard() on a backend that reads back asynchronously (WebGPU); one thread. */
  shardAsync(job: Job, b: Batch, out: FloatArray | null): Promise<number> {
    return runAsync(this.backend as Backend & AsyncReads, this.shardReads(job, b, out, null));
  }

  /** shard() with its read points (reads.ts). */
  private *shardReads(job: Job, b: Batch, out: FloatArray | null, reduce: Reduce | null): Reads<number> {
    if ('step' in job) this.step = job.step;
    const need = (): FloatArray => {
      if (!out) throw new Error(`network.shard: '${job.kind}' needs an output`);
      return out;
    };
    switch (job.kind) {
      case 'gradient':
        return yield* this.gradientIn(b, need(), this.training(b, job.updateStats, reduce), job.weight);
      case 'loss':
      case 'evalLoss': {
        const mode = job.kind === 'loss' ? this.training(b, false, reduce) : EVAL;
        const z = yield* read(yield* this.forward(b, this.params, mode));
        return this.lossFn.value(z, b.y, b.n, this.outShape[0]) * job.weight;
      }
      case 'outputs':
      case 'evalOutputs':
        need().set(yield* read(yield* this.forward(b, this.params, job.kind === 'outputs' ? this.training(b, false, reduce) : EVAL)));
        return 0;
      case 'statistics':
        yield* this.forward(b, this.params, { ...this.training(b, true, reduce), cumulative: true });
        return 0;
      case 'squaredGradients':
        yield* this.squaredGradientsReads(b, need());
        return 0;
      case 'curvature':
        this.curvatures.set(job.id, yield* this.curvatureOn(b, job.at, this.training(b, false, reduce), job.weight));
        return 0;
      case 'gv':
      case 'hv': {
        const c = this.curvatures.get(job.id);
        if (!c) throw new Error(`network.shard: no curvature ${job.id} here`);
        yield* c[job.kind === 'gv' ? 'gvReads' : 'hvReads'](job.dir, need(), job.fresh);
        return 0;
      }
      case 'drop':
        this.curvatures.delete(job.id);
        return 0;
    }
  }

  /** @internal A thread's share of a curvature batch, its products to come (the caller keeps it). */
  curvatureShare(job: Extract<Job, { kind: 'curvature' }>, b: Batch, reduce: Reduce | null): ShardCurvature {
    this.step = job.step;
    return runSync(this.backend, this.curvatureOn(b, job.at, this.training(b, false, reduce), job.weight));
  }

  /** The mean loss and its gradient (into buf) of `weight` × the batch's mean loss. */
  private *gradientIn(b: Batch, buf: FloatArray, mode: PassMode, weight = 1): Reads<number> {
    const z = yield* this.forward(b, this.params, mode);
    const k = this.outShape[0];
    const dz = new Float64Array(b.n * k);
    const loss = this.lossFn.value(yield* read(z), b.y, b.n, k, dz) * weight;
    if (weight !== 1) for (let i = 0; i < dz.length; i++) dz[i] *= weight;
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
   * K-FAC (kronecker.ts): the raw factor sums of `b` (the caller normalises them) after one
   * forward pass, and, into `grad` when given, the gradient of `weight` × its mean loss; returns
   * that weighted loss. 'empirical' reuses the gradient's own backward pass (its columns are
   * dE/dz = dℓ_n/dz · weight/n, so its G sums carry that factor squared).
   */
  protected *kroneckerIn(b: Batch, options: FactorOptions, grad: FloatArray | null, mode: PassMode, weight = 1): Reads<{ loss: number; sink: KroneckerSink }> {
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
   * Gv and Hv of `weight` × the mean loss of `b` at parameters `at`. The forward pass they start
   * from is redone when a product is asked `fresh` (stale(): another pass ran since).
   */
  protected *curvatureOn(b: Batch, at: FloatArray, mode: PassMode, weight: number): Reads<ShardCurvature> {
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

  /** Σ over the samples of `b` of each one's gradient squared, into buf. */
  protected squaredGradients(b: Batch, buf: FloatArray): void {
    runSync(this.backend, this.squaredGradientsReads(b, buf));
  }

  protected *squaredGradientsReads(b: Batch, buf: FloatArray): Reads<void> {
    const g = allocate(this.backend.dtype, this.paramCount);
    buf.fill(0);
    for (let i = 0; i < b.n; i++) {
      // Per-sample passes neither start a step nor touch the running statistics.
      const one = sliceBatch(b, i, i + 1);
      yield* this.gradientIn(one, g, this.training(one, false));
      for (let j = 0; j < buf.length; j++) buf[j] += g[j] * g[j];
    }
  }

  /** Runs the forward pass at `params`, leaving each layer's saved state for the later passes. */
  private *forward(b: Batch, params: FloatArray, mode: PassMode): Reads<Tensor> {
    // With threads, the whole batch was checked before it was split (checked()).
    this.checkBatch(b, this.checkInputs && this.threads === 1);
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

  /** Training mode with this step's per-sample keys. */
  protected training(b: Batch, updateStats: boolean, reduce: Reduce | null = null): PassMode {
    // forward rejects a bad n; without dropout no layer reads the keys, and hashing every sample's bytes costs ~4 % of a LeNet step.
    if (!Number.isInteger(b.n) || b.n < 1 || !this.random) return reduce ? { training: true, updateStats, keys: null, reduce } : { training: true, updateStats, keys: null };
    const size = b.x.length / b.n;
    const step = hash32(this.seed, this.step);
    const keys = new Uint32Array(b.n);
    for (let i = 0; i < b.n; i++) keys[i] = hashFloats(b.x.subarray(i * size, (i + 1) * size), step);
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

  /**
   * `b`, after the checks a forward pass and the loss make (with threads, made once for the
   * whole batch, so an error names the sample in the batch the caller gave).
   */
  protected checked(b: Batch, targets = true): Batch {
    this.checkBatch(b, this.checkInputs);
    if (targets) this.lossFn.checkTargets(b.y, b.n, this.outShape[0]);
    return b;
  }

  private checkBatch(b: Batch, finite: boolean): void {
    const size = sizeOf(this.inShape);
    if (!Number.isInteger(b.n) || b.n < 1 || b.x.length !== b.n * size) {
      throw new ShapeError(
        `network input: a batch of ${b.n} samples of shape ${fmt(this.inShape)} needs ${b.n * size} values, got ${b.x.length}`,
      );
    }
    if (!finite) return;
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

/** One thread's Gv and Hv products on its share of a curvature batch (see curvatureOn). */
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

