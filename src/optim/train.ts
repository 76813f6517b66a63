/**
 * The training loop for library users: epochs of shuffled mini-batches, one optimizer step per
 * batch, callbacks after every step and every epoch, and a clean stop between steps when an
 * AbortSignal fires. It knows a Model and flat vectors only, like the optimizers.
 *
 * The loop owns no file, clock or progress bar: the CLI writes its metrics, checkpoints and plot
 * from the callbacks, and resumes a run by handing back its MiniBatches (with their restored
 * state) and the counters it saved (`progress`). Every callback may be async; the loop awaits it.
 */
import { readsLater, type Batch, type Model } from '../nd/model.js';
import { Rng } from '../nd/rng.js';
import { MiniBatches, type Samples } from './batches.js';
import type { Optimizer, StepReport } from './optimizer.js';

/** Where a run stands; `train` updates it in place, so a checkpoint written from a callback is current. */
export interface TrainProgress {
  /** Optimizer steps taken. */
  step: number;
  /** Epochs completed. */
  epoch: number;
  /** Σ batch loss and batch count of the epoch in progress (their ratio is the epoch's train loss). */
  epochLossSum: number;
  epochSteps: number;
}

export interface StepInfo<R extends StepReport = StepReport> {
  /** Steps taken so far, this one included (counted from `progress.step`). */
  readonly step: number;
  /** The epoch in progress, from 1. */
  readonly epoch: number;
  /** The optimizer's report: the batch loss before the step, and its own numbers. */
  readonly report: R;
  readonly progress: Readonly<TrainProgress>;
}

export interface EpochInfo {
  /** Epochs completed, this one included. */
  readonly epoch: number;
  readonly step: number;
  /** Mean batch loss over the epoch's steps (each measured before its step). */
  readonly trainLoss: number;
  readonly progress: Readonly<TrainProgress>;
}

type Callback<T> = (info: T) => void | Promise<void>;

export interface TrainOptions<R extends StepReport = StepReport> {
  optimizer: Optimizer<R>;
  /** Train until this many epochs are complete (those already in `progress` count). */
  epochs: number;
  /** Samples per batch; required when `data` is Samples, and must match a MiniBatches' own. */
  batchSize?: number;
  /** Seed of the shuffling generator when `data` is Samples (default 1); or give `rng`. */
  seed?: number;
  rng?: Rng;
  /**
   * Called with each batch before its step (augmentation): it may change the batch in place, or
   * return the batch to step on instead (features of another shape, soft targets).
   */
  augment?: (batch: Batch) => Batch | void;
  onStep?: Callback<StepInfo<R>>;
  /** Called after each completed epoch, with the counters already closed for it. */
  onEpoch?: Callback<EpochInfo>;
  /** Stops the loop before the next step; the run can be continued from `progress`. */
  signal?: AbortSignal;
  /** Counters to continue from (a resumed run); updated in place. Default: a fresh run. */
  progress?: TrainProgress;
}

export interface TrainSummary {
  /** Total steps and completed epochs (resumed ones included). */
  readonly steps: number;
  readonly epochs: number;
  /** Steps taken by this call. */
  readonly stepsThisCall: number;
  /** Mean batch loss of the last epoch completed by this call; null when none was. */
  readonly trainLoss: number | null;
  /** Batch loss of the last step of this call; null when it took none. */
  readonly lastLoss: number | null;
  /** The signal stopped the loop before `epochs` were complete. */
  readonly stopped: boolean;
}

/** A step whose batch loss is NaN or infinite: the parameters are no longer trustworthy. */
export class TrainingDiverged extends Error {
  constructor(
    readonly step: number,
    readonly loss: number,
  ) {
    super(`train: diverged at step ${step} (batch loss ${loss}); try a smaller learning rate`);
    this.name = 'TrainingDiverged';
  }
}

const KNOWN = new Set(['optimizer', 'epochs', 'batchSize', 'seed', 'rng', 'augment', 'onStep', 'onEpoch', 'signal', 'progress']);

/** Trains `model` on `data` (Samples, or a MiniBatches iterator) as `options` say. */
export async function train<R extends StepReport>(
  model: Model,
  data: Samples | MiniBatches,
  options: TrainOptions<R>,
): Promise<TrainSummary> {
  const batches = checkOptions(model, data, options);
  const { optimizer, epochs, augment, onStep, onEpoch, signal } = options;
  const progress = options.progress ?? { step: 0, epoch: 0, epochLossSum: 0, epochSteps: 0 };
  const firstStep = progress.step;
  let trainLoss: number | null = null;
  let lastLoss: number | null = null;
  const stop = () => signal?.aborted === true;
  // A model on a backend that reads back asynchronously (WebGPU) takes the optimizer's async step.
  const later = readsLater(model);
  if (later && typeof optimizer.stepAsync !== 'function') {
    throw new TypeError(`train: the model reads back asynchronously (its backend is ${describeBackend(model)}) and optimizer '${optimizer.name}' has no stepAsync (sgd, adam, adamw and hf have)`);
  }

  while (progress.epoch < epochs && !stop()) {
    // The iterator is advanced by hand so that a stop is seen BEFORE the next batch is drawn:
    // drawing the first batch of an epoch shuffles, and a stopped run must not have shuffled.
    const it = batches.epoch();
    try {
      while (!stop()) {
        const next = it.next();
        if (next.done) break;
        const batch = augment?.(next.value) ?? next.value;
        const report = later ? await optimizer.stepAsync!(model, batch) : optimizer.step(model, batch);
        if (!Number.isFinite(report.loss)) throw new TrainingDiverged(progress.step + 1, report.loss);
        progress.step++;
        progress.epochSteps++;
        progress.epochLossSum += report.loss;
        lastLoss = report.loss;
        await onStep?.({ step: progress.step, epoch: progress.epoch + 1, report, progress });
        // The steps are synchronous work; yielding lets an abort (a SIGINT handler) land between them.
        if (signal) await yieldToEventLoop();
      }
    } finally {
      // Leaves a stopped epoch open in `batches`, so its state() records where to continue.
      it.return();
    }
    if (stop()) break;
    progress.epoch++;
    trainLoss = progress.epochLossSum / progress.epochSteps;
    progress.epochLossSum = 0;
    progress.epochSteps = 0;
    await onEpoch?.({ epoch: progress.epoch, step: progress.step, trainLoss, progress });
  }
  return {
    steps: progress.step,
    epochs: progress.epoch,
    stepsThisCall: progress.step - firstStep,
    trainLoss,
    lastLoss,
    stopped: progress.epoch < epochs,
  };
}

function checkOptions<R extends StepReport>(model: Model, data: Samples | MiniBatches, o: TrainOptions<R>): MiniBatches {
  const fail = (problem: string) => new TypeError(`train: ${problem}`);
  if (typeof model !== 'object' || model === null || typeof (model as Model).gradient !== 'function') {
    throw fail('the model must implement Model (a Network, for example)');
  }
  if (typeof o !== 'object' || o === null) throw fail('options must be an object');
  const unknown = Object.keys(o).filter((k) => !KNOWN.has(k));
  if (unknown.length > 0) throw fail(`unknown option${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} (known: ${[...KNOWN].join(', ')})`);
  if (typeof o.optimizer?.step !== 'function') throw fail('options.optimizer must be an Optimizer (new Sgd(...), createOptimizer(...))');
  if (!(Number.isInteger(o.epochs) && o.epochs > 0)) throw fail(`options.epochs must be a positive integer, got ${String(o.epochs)}`);
  for (const k of ['augment', 'onStep', 'onEpoch'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'function') throw fail(`options.${k} must be a function, got ${typeof o[k]}`);
  }
  if (o.signal !== undefined && typeof o.signal?.aborted !== 'boolean') throw fail('options.signal must be an AbortSignal');
  if (o.progress !== undefined) checkProgress(o.progress, fail);
  if (o.batchSize !== undefined && !(Number.isInteger(o.batchSize) && o.batchSize > 0)) {
    throw fail(`options.batchSize must be a positive integer, got ${String(o.batchSize)}`);
  }
  if (data instanceof MiniBatches) {
    if (o.seed !== undefined || o.rng !== undefined) throw fail('seed and rng are for Samples; MiniBatches carry their own generator');
    if (o.batchSize !== undefined && o.batchSize !== data.batchSize && o.batchSize <= data.n) {
      throw fail(`options.batchSize ${o.batchSize} differs from the MiniBatches' ${data.batchSize}`);
    }
    return data;
  }
  if (typeof data !== 'object' || data === null || !('x' in data) || !('y' in data)) {
    throw fail('data must be Samples {x, y, sampleSize} or MiniBatches');
  }
  if (o.batchSize === undefined) throw fail('options.batchSize is required when data is Samples');
  if (o.seed !== undefined && o.rng !== undefined) throw fail('give seed or rng, not both');
  if (o.seed !== undefined && !Number.isInteger(o.seed)) throw fail(`options.seed must be an integer, got ${String(o.seed)}`);
  return new MiniBatches(data, o.batchSize, o.rng ?? new Rng(o.seed ?? 1));
}

function checkProgress(p: TrainProgress, fail: (problem: string) => Error): void {
  for (const k of ['step', 'epoch', 'epochSteps'] as const) {
    if (!(Number.isInteger(p?.[k]) && p[k] >= 0)) throw fail(`options.progress.${k} must be a non-negative integer, got ${String(p?.[k])}`);
  }
  if (!Number.isFinite(p.epochLossSum)) throw fail(`options.progress.epochLossSum must be a finite number, got ${String(p.epochLossSum)}`);
}

function describeBackend(model: Model): string {
  const b = (model as { backend?: { name?: string } }).backend;
  return b?.name ?? 'asynchronous';
}

/**
 * A macrotask break: setImmediate in Node; in a browser a message to itself (a chain of zero
 * timeouts is clamped to 4 ms each, a tenth of a small CPU step).
 */
function yieldToEventLoop(): Promise<void> {
  if (typeof setImmediate === 'function') return new Promise((done) => setImmediate(done));
  return new Promise((done) => {
    const channel = new MessageChannel();
    channel.port1.onmessage = () => {
      channel.port1.close();
      done();
    };
    channel.port2.postMessage(null);
  });
}
