/**
 * The public network: a sequence of layers built from one sample's input shape, with ONE flat
 * parameter vector (layers in order, each layer's weights then bias, PyTorch layouts). Gradients,
 * directions v, Hv and Gv share that layout. Implements the optimizers' Model interface.
 *
 * Modes (PyTorch's train()/eval(), fixed per method rather than switched): `loss`, `gradient`
 * and `curvature` run in training mode (batch statistics, dropout), `predict` and `evalLoss` in
 * evaluation mode (running statistics, no dropout). Only `gradient` updates running statistics.
 * Randomness: each sample's key is hash(seed, step, the sample's bytes). The step advances when
 * `gradient` sees a batch other than the last one it saw (or on `nextStep()`), so every pass of
 * one optimizer step, on the batch or a slice of it, sees the same dropout masks. A network
 * without dropout draws nothing and its step stays 0.
 *
 * The passes themselves are single-threaded (src/layers/passes.ts, which this class extends).
 * Here each public method checks its arguments once for the whole batch and runs its pass as a
 * job (src/parallel/jobs.ts): on this thread, or with `threads` > 1 (CPU backend) split over the
 * replicas of src/parallel/team.ts, which share these parameters.
 */
import { checkFinite, checkLength, checkNumbers, outputVector, toFloat, type Numbers, type Output } from '../nd/arrays.js';
import { readsAsync, type AsyncReads, type Backend } from '../nd/backend.js';
import { allocate, allocateShared, type FloatArray } from '../nd/dtype.js';
import type { AsyncCurvature, AsyncModel, Batch, BatchLike, Curvature, CurvatureSetup, FactorOptions, KroneckerFactors } from '../nd/model.js';
import { hash32, hashFloats } from '../nd/rng.js';
import { ShapeError, fmt, sizeOf, type Shape } from '../nd/shape.js';
import type { NetworkLimits } from '../layers/limits.js';
import type { LossName } from '../layers/loss.js';
import { NetworkPasses } from '../layers/passes.js';
import { layerTensors } from '../layers/naming.js';
import { runAsync, runSync } from '../layers/reads.js';
import type { LayerSpec } from '../layers/registry.js';
import { applyState, collectState, firstProblem, type StateDict } from '../layers/state.js';
import { oneLine, summaryTable } from '../layers/summary.js';
import { curvatureShare, jobReads, kroneckerShare, runJob, type Job, type ModeOf } from '../parallel/jobs.js';
import { Dropout } from '../layers/dropout.js';
import type { Layer } from '../layers/layer.js';
import type { ProductKind, SamplePlan } from '../layers/passes.js';
import { Residual } from '../layers/residual.js';
import {
  checkDiagonalOptions,
  checkFisher,
  checkMode,
  chosenTensors,
  hessianDiagonalRefusal,
  sampleLayers,
  type CurvatureDiagonalOptions,
  type ModeOptions,
  type SampleOptions,
  type SampleQuantities,
} from './samples.js';
import { NetworkTeam } from '../parallel/team.js';
import { checkArguments, toBatch } from './arguments.js';

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
  /** Size limits checked while the network is built (src/layers/limits.ts); default DEFAULT_LIMITS. */
  limits?: Partial<NetworkLimits>;
}

/**
 * Hv and Gv on any array-like direction, into a Float32Array, Float64Array or number[]. A NaN in
 * v is not refused: it gives NaN products, which conjugate gradient detects and reports.
 */
export interface NetworkCurvature extends Curvature {
  gv(v: Numbers, out: Output): void;
  hv(v: Numbers, out: Output): void;
  fv(v: Numbers, out: Output): void;
  ev(v: Numbers, out: Output): void;
}

/** What a network holds besides its parameters: the step its randomness is at, and layer buffers. */
export interface NetworkState {
  step: number;
  /** Identity of the batch the step belongs to (null before the first gradient pass). */
  batch: number | null;
  /** Buffers by PyTorch name (namedBuffers), e.g. "1.running_mean". */
  buffers: Record<string, number[]>;
}

export class Network extends NetworkPasses implements AsyncModel {
  /** Threads each pass splits its batch over (NetworkOptions.threads). */
  readonly threads: number;
  /** The randomness step (the class comment). */
  private step = 0;
  /** Identity of the batch the randomness step belongs to (null before the first gradient pass). */
  private stepBatch: number | null = null;
  private readonly checkInputs: boolean;
  /** The worker threads' side of every pass (threads > 1). */
  private readonly team: NetworkTeam | null;
  /** Dropout keep-masks by layer name for the training passes (setDropoutMasks), or none. */
  private masks: Record<string, FloatArray> | undefined;

  constructor(backend: Backend, inShape: Shape, specs: readonly LayerSpec[], options: NetworkOptions = {}) {
    const limits = checkArguments(inShape, specs, options);
    const threads = resolveThreads(options.threads, backend);
    // Replicas on other threads read the parameters in place.
    super(backend, inShape, specs, { loss: options.loss, seed: options.seed, limits }, threads > 1 ? allocateShared : allocate);
    this.threads = threads;
    this.checkInputs = options.checkInputs ?? true;
    this.team = threads > 1 ? new NetworkTeam(this, threads) : null;
  }

  /** Copies `p` (any array-like of finite numbers, converted to the network's dtype) into the parameters. */
  setParams(p: Numbers): void {
    checkNumbers('setParams', 'params', p);
    checkLength('setParams', 'params', p, this.paramCount, 'the network has');
    checkFinite('setParams', 'params', p);
    // Finite in float64 is not enough: 1e39 would be Infinity in a float32 network.
    const problem = firstProblem(p, this.backend.dtype);
    if (problem) throw new RangeError(`setParams: params hold ${problem}`);
    this.params.set(p);
  }

  /** Copies of every parameter and buffer by PyTorch name, as `{shape, data}` in the network's dtype. */
  stateDict(): StateDict {
    return collectState(this.params, layerTensors(this.layers), this.backend.dtype);
  }

  /** Sets every parameter and buffer from `dict`; names must match exactly and shapes agree, or nothing changes. */
  loadStateDict(dict: StateDict): void {
    const t = layerTensors(this.layers);
    applyState(dict, this.params, t.flatMap((l) => l.params), t.flatMap((l) => l.buffers), this.backend.dtype);
  }

  /** A table of the layers (options, output shape, parameter shapes and counts), the totals, dtype and backend. */
  summary(): string {
    return summaryTable(this);
  }

  /** One line: input → layer kinds → output, parameter count, dtype and backend. */
  override toString(): string {
    return oneLine(this);
  }

  /** Frees every buffer the layers hold (device memory on the GPU backend) and the threads' replicas; the network cannot be used afterwards. */
  override dispose(): void {
    this.team?.dispose();
    super.dispose();
  }

  /**
   * Outputs [n, k] for the n samples in `x` (any array-like, row-major [n, ...inShape]; n is
   * x.length / sample size unless given), evaluated in chunks of `chunk` samples.
   */
  predict(x: Numbers, n?: number, chunk = 256): FloatArray {
    const all = this.samples('predict', x, n, chunk);
    const out = allocate(this.backend.dtype, all.count * this.outShape[0]);
    for (const [b, rows] of this.chunks(all, chunk, out)) this.outputsInto(b, { kind: 'evalOutputs', step: this.step, weight: 1 }, rows);
    return out;
  }

  /**
   * Recomputes the batch-norm running statistics at the current parameters: resets them, then
   * averages the batch statistics of the n samples in `x` over chunks of about `chunk` samples
   * (training mode), as PyTorch's torch.optim.swa_utils.update_bn. For optimizers that take few
   * large steps (HF), whose momentum averages still hold statistics of parameters long gone.
   */
  recomputeStatistics(x: Numbers, n?: number, chunk = 256): void {
    for (const b of this.statisticsChunks(x, n, chunk)) this.vector({ kind: 'statistics', step: this.step, weight: 1 }, b, null);
  }

  /** recomputeStatistics() on any backend, WebGPU included. */
  async recomputeStatisticsAsync(x: Numbers, n?: number, chunk = 256): Promise<void> {
    const B = this.later();
    if (!B) return this.recomputeStatistics(x, n, chunk);
    const job = { kind: 'statistics', step: this.step, weight: 1 } as const;
    await this.exclusive(async () => {
      for (const b of this.statisticsChunks(x, n, chunk)) await runAsync(B, jobReads(this, job, b, null, null));
    });
  }

  /** Resets the running statistics and returns recomputeStatistics' chunks, checked (none without batch norm). */
  private statisticsChunks(x: Numbers, n: number | undefined, chunk: number): Batch[] {
    const { xs, count, size } = this.samples('recomputeStatistics', x, n, chunk);
    const buffers = this.namedBuffers();
    if (buffers.length === 0) return [];
    if (count < 2) throw new ShapeError('recomputeStatistics: batch statistics need at least 2 samples');
    for (const b of buffers) b.data.fill(b.name.endsWith('running_var') ? 1 : 0);
    // Equal chunks of at least 2 samples (batch statistics of one sample are degenerate).
    const chunks = Math.max(1, Math.min(Math.ceil(count / chunk), Math.floor(count / 2)));
    return Array.from({ length: chunks }, (_, c) => {
      const [s, e] = [Math.floor((c * count) / chunks), Math.floor(((c + 1) * count) / chunks)];
      return this.checked({ x: xs.subarray(s * size, e * size), y: new Int32Array(0), n: e - s }, false);
    });
  }

  /** predict's chunks of `chunk` samples of x, each with its rows of `out`. */
  private *chunks({ xs, count, size }: { xs: FloatArray; count: number; size: number }, chunk: number, out: FloatArray): Generator<[Batch, FloatArray]> {
    const k = this.outShape[0];
    for (let s = 0; s < count; s += chunk) {
      const e = Math.min(count, s + chunk);
      yield [{ x: xs.subarray(s * size, e * size), y: new Int32Array(0), n: e - s }, out.subarray(s * k, e * k)];
    }
  }

  /** x (any array-like) as n samples of the input shape in the network's dtype, checked. */
  private samples(where: string, x: Numbers, n: number | undefined, chunk: number) {
    const xs = toFloat(where, 'x', x, this.backend.dtype);
    const size = sizeOf(this.inShape);
    const count = n ?? xs.length / size;
    if (!(Number.isInteger(count) && count >= 1) || xs.length !== count * size) {
      throw new ShapeError(
        n === undefined
          ? `${where}: x has ${xs.length} values, not a whole number of samples of shape ${fmt(this.inShape)} (${size} values each)`
          : `${where}: ${n} samples of shape ${fmt(this.inShape)} need ${n * size} values, x has ${xs.length}`,
      );
    }
    if (!(Number.isInteger(chunk) && chunk >= 1)) throw new RangeError(`${where}: chunk must be a positive integer, got ${chunk}`);
    return { xs, count, size };
  }

  /** Outputs [n, k] of one batch in training mode (batch statistics, this step's dropout masks). */
  trainOutputs(batch: BatchLike): FloatArray {
    const b = toBatch(this.backend.dtype, 'trainOutputs', batch);
    const out = allocate(this.backend.dtype, b.n * this.outShape[0]);
    this.outputsInto(b, { kind: 'outputs', step: this.step, weight: 1, ...this.modeOf(false, b.n) }, out);
    return out;
  }

  /** Mean loss in training mode (batch statistics, this step's dropout masks). */
  loss(batch: BatchLike): number {
    const b = toBatch(this.backend.dtype, 'loss', batch);
    return this.scalar(b, { kind: 'loss', step: this.step, weight: 1, ...this.modeOf(false, b.n) });
  }

  /** Mean loss in evaluation mode (running statistics, no dropout): held-out and reported losses. */
  evalLoss(batch: BatchLike): number {
    const b = toBatch(this.backend.dtype, 'evalLoss', batch);
    return this.scalar(b, { kind: 'evalLoss', step: this.step, weight: 1 });
  }

  /**
   * Writes the gradient of the mean batch loss into `grad` (Float32Array, Float64Array or number[]); returns the loss.
   * Training mode: a batch other than the previous one starts a new step; updates running statistics.
   * With `{ mode: 'eval' }`: running statistics, no dropout, nothing updated.
   */
  gradient(batch: BatchLike, grad: Output, options?: ModeOptions): number {
    const evaluation = checkMode('gradient', options);
    const b = this.gradientBatch(batch, evaluation);
    const { buf, finish } = this.output('gradient', 'grad', grad);
    const loss = this.vector({ kind: 'gradient', step: this.step, weight: 1, updateStats: !evaluation, ...this.modeOf(evaluation, b.n) }, this.checked(b), buf);
    finish();
    return loss;
  }

  /**
   * Per-sample quantities of the batch's mean loss from one forward and one backward pass
   * (BackPACK's first-order extensions; conventions in SampleQuantities): the gradient, each
   * sample's squared gradient norms, the second moment and variance of the per-sample gradients,
   * and the per-sample gradients themselves of chosen layers. Training mode (this step's dropout
   * masks) unless `mode: 'eval'`; batch norm in training mode couples the samples, so there
   * per-sample gradients are undefined and refused: use evaluation mode.
   */
  perSample(batch: BatchLike, options: SampleOptions = {}): SampleQuantities {
    const b = this.checked(toBatch(this.backend.dtype, 'perSample', batch));
    const evaluation = checkMode('perSample', options);
    this.synchronous('perSample');
    const layers = sampleLayers(options, this.layers);
    const plan: SamplePlan = { norms: options.norms ?? true, squares: options.moments ?? true, layers };
    const P = this.paramCount;
    const head = (plan.squares ? 2 : 1) * P;
    const width = this.samplesRowWidth(plan);
    const out = allocate(this.backend.dtype, head + b.n * width);
    const job: Job = { kind: 'samples', step: this.step, weight: 1, plan, ...this.modeOf(evaluation, b.n) };
    const loss = this.team ? this.team.packed(job, b, head, width, out) : runJob(this, job, b, out, null);
    const n = b.n;
    const params = this.namedParameters();
    const rows = out.subarray(head);
    const column = (j: number) => Float64Array.from({ length: n }, (_, r) => rows[r * width + j]);
    let result: SampleQuantities = { loss, n, gradient: out.slice(0, P) };
    if (plan.norms) {
      const byTensor = Object.fromEntries(params.map((p, j) => [p.name, column(j)]));
      const total = new Float64Array(n);
      for (const v of Object.values(byTensor)) v.forEach((x, r) => (total[r] += x));
      result = { ...result, norms: { total, byTensor } };
    }
    if (plan.squares) {
      const secondMoment = out.slice(P, 2 * P);
      const variance = secondMoment.map((s, i) => s / n - (out[i] / n) ** 2);
      result = { ...result, secondMoment, variance };
    }
    if (layers.length > 0) {
      let at = plan.norms ? params.length : 0;
      const gradients = chosenTensors(params, this.layers, layers).map((p) => {
        const data = allocate(this.backend.dtype, n * p.size);
        for (let r = 0; r < n; r++) data.set(rows.subarray(r * width + at, r * width + at + p.size), r * p.size);
        at += p.size;
        return { ...p, data };
      });
      result = { ...result, gradients };
    }
    return result;
  }

  /**
   * The diagonal of a curvature matrix of the batch's mean loss (CurvatureDiagonalOptions): of
   * the GGN exactly (one backward pass per output) or by Monte-Carlo (`samples` passes with
   * sampled targets), of the Hessian exactly (CurvatureDiagonalOptions says where), or of the
   * empirical Fisher. Into `out` when given (else a new vector); training mode unless `mode: 'eval'`.
   */
  curvatureDiagonal(batch: BatchLike, options: CurvatureDiagonalOptions = {}, out?: Output): FloatArray {
    const b = this.checked(toBatch(this.backend.dtype, 'curvatureDiagonal', batch));
    const evaluation = checkMode('curvatureDiagonal', options);
    const o = checkDiagonalOptions(options);
    this.synchronous('curvatureDiagonal');
    if (o.of === 'hessian') {
      const why = hessianDiagonalRefusal(this.specs, this.layers, evaluation);
      if (why) throw new Error(`curvatureDiagonal: no exact Hessian diagonal here: ${why}; estimate it with hutchinsonDiagonal on a CurvatureOperator (operator 'hessian')`);
    }
    const { buf, finish } = this.output('curvatureDiagonal', 'out', out ?? allocate(this.backend.dtype, this.paramCount));
    if (o.of === 'empirical-fisher') {
      const q = this.perSample(b, { mode: options.mode, norms: false });
      buf.set(q.secondMoment!.map((v) => v * b.n));
    } else {
      const job: Job = { kind: 'diagonal', step: this.step, weight: 1, estimate: o.estimate, samples: o.samples, seed: o.seed, hessian: o.of === 'hessian', ...this.modeOf(evaluation, b.n) };
      this.vector(job, b, buf);
    }
    finish();
    return buf;
  }

  /**
   * Gives every dropout layer named in `masks` its keep-mask (0 drops, 1 keeps; [n, ...shape] of
   * the layer's input, row-major) for the training passes that follow, in place of the masks it
   * would draw: to reproduce another framework's masks exactly. The batches must then hold n
   * samples. `null` returns to drawn masks.
   */
  setDropoutMasks(masks: Readonly<Record<string, Numbers>> | null): void {
    if (masks === null) {
      this.masks = undefined;
      return;
    }
    if (typeof masks !== 'object') throw new TypeError(`setDropoutMasks: masks must be an object of keep-masks by layer name, or null, got ${JSON.stringify(masks)}`);
    const dropouts = dropoutShapes(this.layers);
    const given: Record<string, FloatArray> = {};
    for (const [name, m] of Object.entries(masks)) {
      if (!dropouts.has(name)) throw new Error(`setDropoutMasks: no dropout layer '${name}' (dropout layers: ${[...dropouts.keys()].join(', ') || 'none'})`);
      given[name] = toFloat('setDropoutMasks', name, m, this.backend.dtype);
    }
    this.masks = given;
  }

  /**
   * The job fields of a pass on n samples in evaluation mode, or in training mode with the given
   * masks, checked against the whole batch here: with threads each share sees only its rows.
   */
  private modeOf(evaluation: boolean, n: number): ModeOf {
    if (evaluation) return { evaluation: true };
    if (!this.masks) return {};
    const shapes = dropoutShapes(this.layers);
    for (const [name, m] of Object.entries(this.masks)) {
      const shape = [n, ...shapes.get(name)!];
      if (m.length !== sizeOf(shape)) throw new ShapeError(`${name}: the given mask has ${m.length} values, the batch [${shape.join(', ')}] needs ${sizeOf(shape)}`);
    }
    return { masks: this.masks };
  }

  /** Refuses a pass that needs synchronous reads on a backend whose reads resolve later. */
  private synchronous(where: string): void {
    if (readsAsync(this.backend)) throw new Error(`${where}: per-sample and diagonal curvature read back synchronously; the ${this.backend.name} backend reads asynchronously (use the cpu or gpu backend)`);
  }

  /** The batch of a gradient pass, converted; in training mode a batch other than the previous one starts a new step. */
  private gradientBatch(batch: BatchLike, evaluation = false): Batch {
    const b = toBatch(this.backend.dtype, 'gradient', batch);
    // Steps exist for dropout's masks: a network without randomness skips hashing the batch.
    if (this.random && !evaluation) {
      const id = batchId(b);
      if (id !== this.stepBatch) [this.step, this.stepBatch] = [this.step + 1, id];
    }
    return b;
  }

  // ---- The passes as Promises (AsyncModel). On a backend that reads back asynchronously
  // (WebGPU) they run the same passes through their read points (reads.ts); elsewhere they
  // resolve at once with what the synchronous methods return. The passes of one network run one
  // at a time in call order (`exclusive`): a pass paused at a read point holds the layers' saved
  // state, which another pass's forward would overwrite. What a call captures (its batch, the
  // parameters a curvature is taken at, the randomness step) is captured when it is called. ----

  /** The end of the last asynchronous pass queued on this network. */
  private turn: Promise<unknown> = Promise.resolve();

  /** Runs `pass` after every asynchronous pass queued before it. */
  private exclusive<T>(pass: () => Promise<T>): Promise<T> {
    const mine = this.turn.then(pass, pass);
    this.turn = mine.catch(() => {});
    return mine;
  }

  /** True on a backend whose reads resolve later (WebGPU): use the *Async methods there. */
  get asyncReads(): boolean {
    return readsAsync(this.backend);
  }

  async predictAsync(x: Numbers, n?: number, chunk = 256): Promise<FloatArray> {
    const B = this.later();
    if (!B) return this.predict(x, n, chunk);
    const all = this.samples('predict', x, n, chunk);
    const out = allocate(this.backend.dtype, all.count * this.outShape[0]);
    const job = { kind: 'evalOutputs', step: this.step, weight: 1 } as const;
    await this.exclusive(async () => {
      for (const [b, rows] of this.chunks(all, chunk, out)) await runAsync(B, jobReads(this, job, this.checked(b, false), rows, null));
    });
    return out;
  }

  async lossAsync(batch: BatchLike): Promise<number> {
    const B = this.later();
    if (!B) return this.loss(batch);
    const b = this.checked(toBatch(this.backend.dtype, 'loss', batch));
    const job = { kind: 'loss', step: this.step, weight: 1 } as const;
    return this.exclusive(() => runAsync(B, jobReads(this, job, b, null, null)));
  }

  async evalLossAsync(batch: BatchLike): Promise<number> {
    const B = this.later();
    if (!B) return this.evalLoss(batch);
    const b = this.checked(toBatch(this.backend.dtype, 'evalLoss', batch));
    const job = { kind: 'evalLoss', step: this.step, weight: 1 } as const;
    return this.exclusive(() => runAsync(B, jobReads(this, job, b, null, null)));
  }

  async gradientAsync(batch: BatchLike, grad: Output): Promise<number> {
    const B = this.later();
    if (!B) return this.gradient(batch, grad);
    const b = this.gradientBatch(batch);
    const { buf, finish } = this.output('gradient', 'grad', grad);
    const job = { kind: 'gradient', step: this.step, weight: 1, updateStats: true } as const;
    const checked = this.checked(b);
    const loss = await this.exclusive(() => runAsync(B, jobReads(this, job, checked, buf, null)));
    finish();
    return loss;
  }

  /**
   * K-FAC: the Kronecker factors of the batch's mean-loss curvature (model.ts, kronecker.ts) at
   * the current parameters, from one forward pass; with `grad`, also the gradient into it, as
   * `gradient` would compute it (a new step for a new batch, running statistics updated).
   * Training mode (this step's dropout masks, or those given by setDropoutMasks); split over the
   * network's threads like the other passes. Returns the mean loss and the factors.
   */
  kroneckerFactors(batch: BatchLike, options: FactorOptions, grad?: Output): { loss: number; factors: KroneckerFactors } {
    const b = toBatch(this.backend.dtype, 'kroneckerFactors', batch);
    checkFactorOptions(options);
    // The layers' factor rules read their Gram matrices back synchronously (kronecker.ts).
    if (readsAsync(this.backend)) throw new Error(`kroneckerFactors: K-FAC factors need a backend that reads back synchronously (cpu, gpu); the ${this.backend.name} backend reads asynchronously`);
    if (grad !== undefined && this.random) {
      const id = batchId(b);
      if (id !== this.stepBatch) [this.step, this.stepBatch] = [this.step + 1, id];
    }
    const out = grad === undefined ? null : this.output('kroneckerFactors', 'grad', grad);
    const job = { kind: 'kronecker', id: 0, step: this.step, weight: 1, updateStats: grad !== undefined, options, ...this.modeOf(false, b.n) } as const;
    const checked = this.checked(b);
    const buf = out && out.buf;
    const { loss, sink } = this.team ? this.team.kronecker(job, checked, buf) : runSync(this.backend, kroneckerShare(this, job, checked, buf, null));
    out?.finish();
    const n = b.n;
    // Raw sums to means over samples (kronecker.ts): A over n; G over n·(sampled columns), or,
    // for the empirical Fisher, whose columns were the mean loss's dℓ/dz / n, times n² / n.
    const g = options.kind === 'fisher' ? 1 / (n * (options.samples ?? 1)) : options.kind === 'ggn' ? 1 / n : n;
    const { kronecker, channels } = sink.blocks();
    for (const k of kronecker) {
      symmetrise(k.A, 1 / n);
      symmetrise(k.G, g);
    }
    for (const c of channels) for (let i = 0; i < c.F.length; i++) c.F[i] *= g;
    return { loss, factors: { kind: options.kind, kronecker, channels, samples: n } };
  }

  async curvatureAsync(batch: BatchLike): Promise<AsyncCurvature & { gv(v: Numbers, out: Output): Promise<void>; hv(v: Numbers, out: Output): Promise<void> }> {
    const B = this.later();
    if (!B) {
      const c = this.curvature(batch);
      return { gv: async (v, out) => c.gv(v, out), hv: async (v, out) => c.hv(v, out) };
    }
    const b = this.checked(toBatch(this.backend.dtype, 'curvature', batch));
    const [at, mode] = [this.params.slice() as FloatArray, this.training(b, this.step, false)];
    const c = await this.exclusive(() => runAsync(B, this.curvatureOn(b, at, mode, 1)));
    const product = async (where: 'gv' | 'hv', v: Numbers, out: Output) => {
      const { dir, buf, finish } = this.direction(where, v, out);
      await this.exclusive(() => runAsync(B, c.reads[where](dir, buf, c.stale())));
      finish();
    };
    return { gv: (v, out) => product('gv', v, out), hv: (v, out) => product('hv', v, out) };
  }

  async sumSquaredGradientsAsync(batch: BatchLike, out: Output): Promise<void> {
    const B = this.later();
    if (!B) return this.sumSquaredGradients(batch, out);
    const b = toBatch(this.backend.dtype, 'sumSquaredGradients', batch);
    const { buf, finish } = this.output('sumSquaredGradients', 'out', out);
    const job = { kind: 'squaredGradients', step: this.step, weight: 1 } as const;
    const checked = this.checked(b);
    await this.exclusive(() => runAsync(B, jobReads(this, job, checked, buf, null)));
    for (let j = 0; j < buf.length; j++) buf[j] /= b.n;
    finish();
  }

  /** The backend when it reads back asynchronously, else null. */
  private later(): (Backend & AsyncReads) | null {
    return readsAsync(this.backend) ? this.backend : null;
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
      if (!Array.isArray(v) || v.length !== b.data.length || !v.every((x) => typeof x === 'number')) {
        throw new Error(`network state: buffer '${b.name}' should be ${b.data.length} finite numbers`);
      }
      const problem = firstProblem(v, this.backend.dtype, b);
      if (problem) throw new Error(`network state: buffer '${b.name}' holds ${problem}`);
    }
    const extra = Object.keys(s.buffers).filter((k) => !named.some((b) => b.name === k));
    if (extra.length) throw new Error(`network state: buffers ${extra.join(', ')} belong to no layer of this network`);
    for (const b of named) b.data.set(s.buffers[b.name]);
    [this.step, this.stepBatch] = [s.step, s.batch];
  }

  /**
   * Curvature products of the batch's mean loss at the current parameters (the GGN, the Hessian,
   * the Monte-Carlo Fisher with `samples` targets per sample drawn from `seed`, the empirical
   * Fisher): training mode (this step's masks) unless `mode: 'eval'`.
   */
  curvature(batch: BatchLike, setup?: CurvatureSetup): NetworkCurvature {
    const b = this.checked(toBatch(this.backend.dtype, 'curvature', batch));
    const evaluation = checkMode('curvature', setup);
    const fisher = checkFisher(setup);
    const mode = this.modeOf(evaluation, b.n);
    let c: Record<ProductKind, (dir: FloatArray, buf: FloatArray) => void>;
    if (this.team) c = this.team.curvature(b, this.step, mode, fisher);
    else {
      // The masks of the step current now, kept even if a later gradient() starts another step.
      const own = runSync(this.backend, curvatureShare(this, { kind: 'curvature', id: 0, step: this.step, weight: 1, at: this.params.slice() as FloatArray, fisher, ...mode }, b, null));
      const run = (kind: ProductKind) => (dir: FloatArray, buf: FloatArray) => own[kind](dir, buf, own.stale());
      c = { gv: run('gv'), hv: run('hv'), fv: run('fv'), ev: run('ev') };
    }
    const product = (kind: ProductKind) => (v: Numbers, out: Output) => this.product(kind, v, out, c[kind]);
    return { gv: product('gv'), hv: product('hv'), fv: product('fv'), ev: product('ev') };
  }

  /**
   * (1/n) Σ_n (∇ℓ_n)², the empirical Fisher's diagonal, in training mode: from one per-sample
   * pass; with batch norm (whose batch statistics make per-sample gradients undefined) or on a
   * backend that reads asynchronously, from n passes over batches of one sample each.
   */
  sumSquaredGradients(batch: BatchLike, out: Output): void {
    const b = toBatch(this.backend.dtype, 'sumSquaredGradients', batch);
    const { buf, finish } = this.output('sumSquaredGradients', 'out', out);
    if (hasBatchNorm(this.specs) || readsAsync(this.backend)) {
      this.vector({ kind: 'squaredGradients', step: this.step, weight: 1 }, this.checked(b), buf);
      for (let j = 0; j < buf.length; j++) buf[j] /= b.n;
    } else this.curvatureDiagonal(b, { of: 'empirical-fisher' }, buf);
    finish();
  }

  /**
   * A pass whose results are sums over the batch: its loss (returned) and, when `out` is given,
   * a vector (e.g. a gradient): on this thread, or summed over the threads' shares.
   */
  private vector(job: Job, b: Batch, out: FloatArray | null): number {
    return this.team ? this.team.vector(job, b, out) : runJob(this, job, b, out, null);
  }

  /** The outputs of `b` into `out` (rows [n, k]), each thread writing its shares' rows. */
  private outputsInto(b: Batch, job: Job, out: FloatArray): void {
    const c = this.checked(b, false);
    if (this.team) this.team.rows(job, c, out);
    else runJob(this, job, c, out, null);
  }

  /** A pass that gives a loss. */
  private scalar(b: Batch, job: Job): number {
    return this.vector(job, this.checked(b), null);
  }

  /** A product of the direction `v` (any array-like) into `out` (any output) by `run`, on arrays of the network's dtype. */
  private product(where: string, v: Numbers, out: Output, run: (dir: FloatArray, buf: FloatArray) => void): void {
    const { dir, buf, finish } = this.direction(where, v, out);
    run(dir, buf);
    finish();
  }

  /**
   * `b`, after the checks of its values (finite inputs unless checkInputs is off, targets the
   * loss accepts), made once for the whole batch so that an error names the sample in the batch
   * the caller gave.
   */
  private checked(b: Batch, targets = true): Batch {
    const size = sizeOf(this.inShape);
    if (!Number.isInteger(b.n) || b.n < 1 || b.x.length !== b.n * size) {
      throw new ShapeError(`network input: a batch of ${b.n} samples of shape ${fmt(this.inShape)} needs ${b.n * size} values, got ${b.x.length}`);
    }
    if (this.checkInputs) {
      checkFinite('network targets', 'batch.y', b.y);
      for (let i = 0; i < b.x.length; i++) {
        if (!Number.isFinite(b.x[i])) {
          throw new ShapeError(`network input: sample ${Math.floor(i / size)} of batch [${b.n}, ${this.inShape.join(', ')}] holds ${b.x[i]} at element ${i % size}`);
        }
      }
    }
    if (targets) this.lossFn.checkTargets(b.y, b.n, this.outShape[0]);
    return b;
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
}

/**
 * a ← w·(a + aᵀ)/2: a blocked GEMM need not sum a_ij and a_ji in the same order, and exact
 * symmetry is what lets a factor be stored as its upper triangle (the K-FAC optimizer's state).
 */
function symmetrise(a: Float64Array, w: number): void {
  const n = Math.round(Math.sqrt(a.length));
  for (let i = 0; i < n; i++) {
    a[i * n + i] *= w;
    for (let j = i + 1; j < n; j++) a[i * n + j] = a[j * n + i] = 0.5 * w * (a[i * n + j] + a[j * n + i]);
  }
}

function checkFactorOptions(o: FactorOptions): void {
  if (typeof o !== 'object' || o === null || !['fisher', 'ggn', 'empirical'].includes(o.kind)) {
    throw new Error(`kroneckerFactors: kind must be 'fisher', 'ggn' or 'empirical', got ${JSON.stringify(o?.kind)}`);
  }
  if (o.samples !== undefined && !(Number.isInteger(o.samples) && o.samples >= 1)) throw new Error(`kroneckerFactors: samples must be a positive integer, got ${o.samples}`);
  if (o.seed !== undefined && !Number.isInteger(o.seed)) throw new Error(`kroneckerFactors: seed must be an integer, got ${o.seed}`);
}

function hasBatchNorm(specs: readonly LayerSpec[]): boolean {
  return specs.some((s) => s.kind === 'batchNorm' || (s.kind === 'residual' && hasBatchNorm(s.body)));
}

/** The names of the dropout layers, nested ones (in residual bodies) included. */
/** The dropout layers' per-sample input shapes by name, residual bodies included. */
function dropoutShapes(layers: readonly Layer[]): Map<string, Shape> {
  const found = (ls: readonly Layer[]): [string, Shape][] => ls.flatMap((l) => (l instanceof Residual ? found(l.body) : l instanceof Dropout ? [[l.name, l.inShape] as [string, Shape]] : []));
  return new Map(found(layers));
}

/** A batch's identity: a hash of its inputs' bytes and its size. */
function batchId(b: Batch): number {
  return hash32(hashFloats(b.x, 0x51ed27), b.n);
}

/**
 * The thread count from `asked`, else $NDCNN_THREADS, else 1. More than one needs the CPU
 * backend (the GPU backend runs on its device); $NDCNN_THREADS does not apply to the GPU backend.
 */
function resolveThreads(asked: number | undefined, backend: Backend): number {
  const env = typeof process === 'object' ? process.env.NDCNN_THREADS : undefined;
  const from = asked !== undefined ? 'threads' : 'NDCNN_THREADS';
  const n = asked ?? (env === undefined || env === '' ? 1 : Number(env));
  if (!(Number.isInteger(n) && n >= 1 && n <= 56)) throw new RangeError(`network: ${from} must be an integer from 1 to 56, got ${JSON.stringify(asked ?? env)}`);
  if (n > 1 && backend.name !== 'cpu') {
    if (asked === undefined) return 1;
    throw new Error(`network: threads: ${n} needs the CPU backend (the ${backend.name} backend runs each pass on its device)`);
  }
  return n;
}
