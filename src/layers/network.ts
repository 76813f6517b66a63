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
 * one optimizer step, on the batch or a slice of it, sees the same dropout masks. A network
 * without dropout draws nothing and its step stays 0.
 * Threads (`threads` > 1, CPU backend): every pass splits its batch over replicas of this network
 * on worker threads that share its parameters (src/parallel/team.ts); `shard` is one thread's part.
 */
import { checkFinite, checkLength, checkNumbers, outputVector, toFloat, type Numbers, type Output } from '../nd/arrays.js';
import { checkArguments, toBatch } from './arguments.js';
import type { Backend, Tensor } from '../nd/backend.js';
import { allocate, allocateShared, type FloatArray } from '../nd/dtype.js';
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
import { NetworkTeam, resolveThreads, type Job, type Reduce } from '../parallel/team.js';
import { oneLine, summaryTable } from './summary.js';

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
  /** Whether a layer draws randomness (dropout): the per-sample keys are hashed only then. */
  private readonly random: boolean;
  /** Counts forward passes, so a Curvature knows when the layers' saved state is no longer its own. */
  private generation = 0;
  /** The input and parameter tensors of the latest forward pass, which later passes still read. */
  private live: Scope;
  /** The seed of the initial weights and of dropout's masks. */
  readonly seed: number;
  /** The randomness step and the identity of its batch (see the class comment). */
  private step = 0;
  private stepBatch: number | null = null;
  readonly threads: number;
  private readonly team: NetworkTeam | null;
  /** A replica's curvature shares by id (see shard). */
  private readonly curvatures = new Map<number, ShardCurvature>();

  constructor(
    readonly backend: Backend,
    readonly inShape: Shape,
    readonly specs: readonly LayerSpec[],
    options: NetworkOptions = {},
    /** @internal A thread replica's view of the main network's parameters, left as they are. */
    memory?: FloatArray,
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
    this.random = drawsRandomness(specs);
    this.paramCount = offset;
    this.threads = memory ? 1 : resolveThreads(options.threads, backend);
    this.params = memory ?? (this.threads > 1 ? allocateShared(backend.dtype, offset) : allocate(backend.dtype, offset));
    this.seed = options.seed ?? 1;
    if (!memory) this.init(this.seed);
    this.team = this.threads > 1 ? new NetworkTeam(this, this.threads) : null;
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
    this.team?.dispose();
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
      const b = { x: xs.subarray(s * size, e * size), y: new Int32Array(0), n: e - s };
      this.outputsInto(b, { kind: 'evalOutputs', step: this.step, weight: 1 }, out.subarray(s * k, e * k));
    }
    return out;
  }

  /** Outputs [n, k] of one batch in training mode (batch statistics, this step's dropout masks). */
  trainOutputs(batch: BatchLike): FloatArray {
    const b = toBatch(this.backend.dtype, 'trainOutputs', batch);
    const out = allocate(this.backend.dtype, b.n * this.outShape[0]);
    this.outputsInto(b, { kind: 'outputs', step: this.step, weight: 1 }, out);
    return out;
  }

  /** Mean loss in training mode (batch statistics, this step's dropout masks). */
  loss(batch: BatchLike): number {
    const b = toBatch(this.backend.dtype, 'loss', batch);
    return this.scalar(b, { kind: 'loss', step: this.step, weight: 1 });
  }

  /** Mean loss in evaluation mode (running statistics, no dropout): held-out and reported losses. */
  evalLoss(batch: BatchLike): number {
    const b = toBatch(this.backend.dtype, 'evalLoss', batch);
    return this.scalar(b, { kind: 'evalLoss', step: this.step, weight: 1 });
  }

  /**
   * Writes the gradient of the mean batch loss into `grad` (Float32Array, Float64Array or number[]); returns the loss.
   * Training mode; a batch other than the previous one starts a new step; updates running statistics.
   */
  gradient(batch: BatchLike, grad: Output): number {
    const b = toBatch(this.backend.dtype, 'gradient', batch);
    // Steps exist for dropout's masks: a network without randomness skips hashing the batch.
    if (this.random) {
      const id = batchId(b);
      if (id !== this.stepBatch) [this.step, this.stepBatch] = [this.step + 1, id];
    }
    const { buf, finish } = this.output('gradient', 'grad', grad);
    const job: Job = { kind: 'gradient', step: this.step, weight: 1, updateStats: true };
    const loss = this.team ? this.team.vector(job, this.checked(b), buf) : this.shard(job, b, buf, null);
    finish();
    return loss;
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

  /**
   * @internal One thread's part of a pass (src/parallel): `b` is its share of the batch, `weight`
   * the share's fraction of the batch (its mean loss counts that much), `reduce` sums batch
   * statistics over the threads (null: the batch is all here). Vector results go to `out`;
   * returns the share's weighted loss (0 for passes without one).
   */
  shard(job: Job, b: Batch, out: FloatArray | null, reduce: Reduce | null): number {
    if ('step' in job) this.step = job.step;
    const need = (): FloatArray => {
      if (!out) throw new Error(`network.shard: '${job.kind}' needs an output`);
      return out;
    };
    switch (job.kind) {
      case 'gradient':
        return this.gradientIn(b, need(), this.training(b, job.updateStats, reduce), job.weight);
      case 'loss':
      case 'evalLoss': {
        const mode = job.kind === 'loss' ? this.training(b, false, reduce) : EVAL;
        const z = this.backend.download(this.forward(b, this.params, mode));
        return this.lossFn.value(z, b.y, b.n, this.outShape[0]) * job.weight;
      }
      case 'outputs':
      case 'evalOutputs':
        need().set(this.backend.download(this.forward(b, this.params, job.kind === 'outputs' ? this.training(b, false, reduce) : EVAL)));
        return 0;
      case 'squaredGradients':
        this.squaredGradients(b, need());
        return 0;
      case 'curvature':
        this.curvatures.set(job.id, this.curvatureShare(job, b, reduce));
        return 0;
      case 'gv':
      case 'hv': {
        const c = this.curvatures.get(job.id);
        if (!c) throw new Error(`network.shard: no curvature ${job.id} here`);
        c[job.kind](job.dir, need(), job.fresh);
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
    return this.curvatureOn(b, job.at, this.training(b, false, reduce), job.weight);
  }

  /** The mean loss and its gradient (into buf) of `weight` × the batch's mean loss. */
  private gradientIn(b: Batch, buf: FloatArray, mode: PassMode, weight = 1): number {
    const z = this.forward(b, this.params, mode);
    const k = this.outShape[0];
    const dz = new Float64Array(b.n * k);
    const loss = this.lossFn.value(this.backend.download(z), b.y, b.n, k, dz) * weight;
    if (weight !== 1) for (let i = 0; i < dz.length; i++) dz[i] *= weight;
    buf.fill(0);
    this.scoped((s) => {
      const g = this.wrapLayers(buf, s);
      this.backward(s.upload([b.n, k], dz), g);
      s.writeBack(g);
    });
    return loss;
  }

  curvature(batch: BatchLike): NetworkCurvature {
    const b = toBatch(this.backend.dtype, 'curvature', batch);
    if (this.team) return this.team.curvature(this.checked(b), this.step);
    // The masks of the step current now, kept even if a later gradient() starts another step.
    const c = this.curvatureOn(b, this.params.slice() as FloatArray, this.training(b, false), 1);
    return {
      gv: (v, out) => this.product('gv', v, out, (dir, buf) => c.gv(dir, buf, c.stale())),
      hv: (v, out) => this.product('hv', v, out, (dir, buf) => c.hv(dir, buf, c.stale())),
    };
  }

  /** @internal A product of the direction `v` (any array-like) into `out` (any output) by `run`, on arrays of the network's dtype. */
  product(where: string, v: Numbers, out: Output, run: (dir: FloatArray, buf: FloatArray) => void): void {
    const { dir, buf, finish } = this.direction(where, v, out);
    run(dir, buf);
    finish();
  }

  /**
   * Gv and Hv of `weight` × the mean loss of `b` at parameters `at`. The forward pass they start
   * from is redone when a product is asked `fresh` (stale(): another pass ran since).
   */
  private curvatureOn(b: Batch, at: FloatArray, mode: PassMode, weight: number): ShardCurvature {
    const k = this.outShape[0];
    let gen = -1;
    let z!: FloatArray;
    const dz = new Float64Array(b.n * k);
    const prepare = (fresh: boolean) => {
      if (!fresh) return;
      z = this.backend.download(this.forward(b, at, mode));
      this.lossFn.value(z, b.y, b.n, k, dz);
      scaleBy(dz, weight);
      gen = this.generation;
    };
    // H_L·R{z}: the loss Hessian at the outputs times J·v.
    const top = (Rz: Tensor | null): Float64Array => {
      const u = Rz ? this.backend.download(Rz) : new Float64Array(b.n * k);
      const hu = new Float64Array(b.n * k);
      this.lossFn.hessianVec(z, b.y, b.n, k, u, hu);
      return scaleBy(hu, weight);
    };
    prepare(true);
    return {
      stale: () => gen !== this.generation,
      // Gv = Jᵀ H_L J v: R-forward to J·v at the outputs, H_L, then an ordinary backward pass.
      gv: (dir, buf, fresh) => {
        prepare(fresh);
        buf.fill(0);
        this.scoped((s) => {
          const g = this.wrapLayers(buf, s);
          this.backward(s.upload([b.n, k], top(this.rForward(this.wrapLayers(dir, s)))), g);
          s.writeBack(g);
        });
      },
      // Hv: R-forward, R{dE/dz} = H_L·R{z} at the top, then the R-backward pass.
      hv: (dir, buf, fresh) => {
        prepare(fresh);
        buf.fill(0);
        this.scoped((s) => {
          const h = this.wrapLayers(buf, s);
          let Rdy = s.upload([b.n, k], top(this.rForward(this.wrapLayers(dir, s))));
          let dy = s.upload([b.n, k], dz);
          for (let i = this.layers.length - 1; i > 0; i--) [dy, Rdy] = this.layers[i].rBackward(dy, Rdy, h[i]);
          // Nobody reads the input's gradients: a first conv or dense layer skips them (three input-gradient passes).
          const first = this.layers[0];
          if (first.rBackwardParams) first.rBackwardParams(dy, Rdy, h[0]);
          else first.rBackward(dy, Rdy, h[0]);
          s.writeBack(h);
        });
      },
    };
  }

  sumSquaredGradients(batch: BatchLike, out: Output): void {
    const b = toBatch(this.backend.dtype, 'sumSquaredGradients', batch);
    const { buf, finish } = this.output('sumSquaredGradients', 'out', out);
    const job: Job = { kind: 'squaredGradients', step: this.step, weight: 1 };
    if (this.team) this.team.vector(job, this.checked(b), buf);
    else this.squaredGradients(b, buf);
    for (let j = 0; j < buf.length; j++) buf[j] /= b.n;
    finish();
  }

  /** Σ over the samples of `b` of each one's gradient squared, into buf. */
  private squaredGradients(b: Batch, buf: FloatArray): void {
    const g = allocate(this.backend.dtype, this.paramCount);
    buf.fill(0);
    for (let i = 0; i < b.n; i++) {
      // Per-sample passes neither start a step nor touch the running statistics.
      const one = sliceBatch(b, i, i + 1);
      this.gradientIn(one, g, this.training(one, false));
      for (let j = 0; j < buf.length; j++) buf[j] += g[j] * g[j];
    }
  }

  /** The outputs of `b` into `out` (rows [n, k]), over the threads when there are several. */
  private outputsInto(b: Batch, job: Job, out: FloatArray): void {
    if (this.team) this.team.rows(job, this.checked(b, false), out);
    else this.shard(job, b, out, null);
  }

  /** A pass that gives a loss, over the threads when there are several. */
  private scalar(b: Batch, job: Job): number {
    return this.team ? this.team.vector(job, this.checked(b), null) : this.shard(job, b, null, null);
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
    // With threads, the whole batch was checked before it was split (checked()).
    this.checkBatch(b, this.checkInputs && !this.team);
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
  private training(b: Batch, updateStats: boolean, reduce: Reduce | null = null): PassMode {
    // forward rejects a bad n; without dropout no layer reads the keys, and hashing every sample's bytes costs ~4 % of a LeNet step.
    if (!Number.isInteger(b.n) || b.n < 1 || !this.random) return reduce ? { training: true, updateStats, keys: null, reduce } : { training: true, updateStats, keys: null };
    const size = b.x.length / b.n;
    const step = hash32(this.seed, this.step);
    const keys = new Uint32Array(b.n);
    for (let i = 0; i < b.n; i++) keys[i] = hashFloats(b.x.subarray(i * size, (i + 1) * size), step);
    return reduce ? { training: true, updateStats, keys, reduce } : { training: true, updateStats, keys };
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

  /**
   * `b`, after the checks a forward pass and the loss make (with threads, made once for the
   * whole batch, so an error names the sample in the batch the caller gave).
   */
  private checked(b: Batch, targets = true): Batch {
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
}

function drawsRandomness(specs: readonly LayerSpec[]): boolean {
  return specs.some((s) => s.kind === 'dropout' || (s.kind === 'residual' && drawsRandomness(s.body)));
}

function scaleBy(v: Float64Array, weight: number): Float64Array {
  if (weight !== 1) for (let i = 0; i < v.length; i++) v[i] *= weight;
  return v;
}

/** A batch's identity: a hash of its inputs' bytes and its size. */
function batchId(b: Batch): number {
  return hash32(hashFloats(b.x, 0x51ed27), b.n);
}
