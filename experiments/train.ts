/**
 * `ndcnn train`: resolve the config, load the data, build network and optimizer (restoring a
 * checkpoint when resuming), then the loop: steps with per-step metrics, an evaluation of every
 * held-out set after each epoch, checkpoints and the plot. Nothing is written until the data
 * has loaded and the network and optimizer have been built, so a bad flag or file leaves no
 * half-made run directory behind.
 */
import { existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { removeStale, samples } from '../datasets/index.js';
import type { Network } from '../src/network/index.js';
import { Rng } from '../src/nd/rng.js';
import { createOptimizer, MiniBatches, train as trainLoop, TrainingDiverged, type Optimizer, type OptimizerName } from '../src/optim/index.js';
import { writeFileAtomic } from '../src/io/atomic.js';
import { Augmenter } from './augment.js';
import { restoreNetwork, saveCheckpoint, type Checkpoint, type RunProgress } from './checkpoint.js';
import type { RunConfig } from './config.js';
import { RunFileError, UsageError } from './errors.js';
import { evaluate, majorityBaseline, percent } from './evaluate.js';
import type { PreparedData } from './experiment.js';
import { MetricsLog, readMetrics, type EpochMetrics, type MetricsLine, type TestMetrics } from './metrics.js';
import { renderPlot } from './plot.js';
import { clock, Progress } from './progress.js';
import { CHECKPOINT_FILE, CONFIG_FILE, checkFlags, completeConfig, fromConfig, newConfig, resumeConfig, type TrainFlags } from './resolve.js';
import { buildNetwork, loadData, openBackend } from './session.js';
import { sharpnessTracker } from './sharpness.js';

export interface Io {
  out: (s: string) => void;
  err: (s: string) => void;
  /** stderr is a terminal: draw the progress bar. */
  tty: boolean;
}

export const processIo: Io = {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  tty: Boolean(process.stderr.isTTY),
};

export interface RunSummary {
  dir: string;
  config: RunConfig;
  epochs: number;
  steps: number;
  seconds: number;
  /**
   * What computed it (the backend's description: for the CPU, the GEMM). The result depends on
   * it and on the thread count by float rounding: a figure is reproduced bit for bit with both.
   */
  compute: string;
  test: Record<string, TestMetrics & { baseline: number; baselineClass: string }>;
  /** The run stopped early (--stop-after, or an interrupt) and can be resumed. */
  stopped: boolean;
}

export async function train(f: TrainFlags, io: Io = processIo, signal?: AbortSignal): Promise<RunSummary> {
  checkFlags(f);
  const resumed = f.resume !== undefined ? resumeConfig(f) : undefined;
  const fresh = resumed ? undefined : newConfig(f);
  const known = resumed ? resumed.config : fresh!.base;
  // The backend first: a wrong name or an unavailable GPU mode fails before the data loads.
  const backend = await openBackend(known.backend, f);
  const data = loadData(known);
  const config = fresh ? completeConfig(fresh.base, fresh.lr, data) : known;
  // A resumed run builds what its saved config describes: what that refuses names the file.
  const saved = <T>(build: () => T) => (resumed ? fromConfig(resumed.source, build) : build());
  const net = saved(() => buildNetwork(config, backend));
  const optimizer = saved(() => createOptimizer(config.optimizer as OptimizerName, config.optimizerOptions as never) as Optimizer);
  // The shuffling stream is seeded apart from the weights' (Network uses Rng(seed)).
  const augment = config.augment ?? {};
  const augmenting = config.augmentShift > 0 || Object.keys(augment).length > 0;
  // Augmented audio trains from the waveforms, each batch's features computed after augmenting it.
  const source = augmenting ? data.source ?? null : null;
  const examples = source?.train ?? data.train;
  const batches = new MiniBatches(samples(examples), config.batchSize, new Rng(config.seed + 1));
  const augmenter = augmenting
    ? new Augmenter({ shape: examples.shape.slice(1), shift: config.augmentShift, options: augment, features: source?.features ?? null, flipNegates: data.flipNegates, classes: data.train.classes.length, seed: config.seed + 2 })
    : null;
  const ckpt = resumed?.ckpt ?? null;
  const progress: RunProgress = ckpt ? { ...ckpt.progress } : { step: 0, epoch: 0, epochLossSum: 0, epochSteps: 0, metricsBytes: 0, seconds: 0 };
  if (ckpt) restore(ckpt, net, optimizer, batches, augmenter, resumed!.path);

  const dir = resumed ? resolve(resumed.path, '..') : prepareOutDir(f.out, config.experiment, f.overwrite === true);
  if (resumed && f.out !== undefined && resolve(f.out) !== dir) {
    throw new UsageError(`--out ${f.out}: a resumed run continues in its own directory ${dir}`);
  }
  mkdirSync(dir, { recursive: true });
  removeStale(dir, STALE_TEMP);
  writeFileAtomic(join(dir, CONFIG_FILE), `${JSON.stringify(config, null, 2)}\n`);
  const metrics = new MetricsLog(join(dir, 'metrics.jsonl'), progress.metricsBytes);
  const history: MetricsLine[] = ckpt ? readMetrics(metrics.path) : [];
  const bar = new Progress({ bar: io.tty && !f.quiet, write: io.err });
  const threads = net.threads > 1 ? `, ${net.threads} threads` : '';
  const title = `${config.experiment} ${config.dataset} (${config.optimizer}, ${config.backend}${threads})`;
  const how = ckpt ? `; resuming at epoch ${progress.epoch + 1}, step ${progress.step}`
    : resumed ? `; no ${CHECKPOINT_FILE} was saved, so restarting from step 0 with the run's ${CONFIG_FILE}` : '';
  bar.line(`${title}: ${data.summary}; ${net.paramCount} parameters; ${backend.describe()}${how}`);

  const started = performance.now();
  const seconds = () => progress.seconds + (performance.now() - started) / 1000;
  const checkpoint = () => {
    metrics.sync();
    progress.metricsBytes = metrics.bytes;
    const ckpt: Checkpoint = {
      config,
      params: net.params,
      network: net.state(),
      optimizer: optimizer.state(),
      batches: batches.state(),
      augment: augmenter ? augmenter.state() : null,
      progress: { ...progress, seconds: seconds() },
    };
    saveCheckpoint(join(dir, CHECKPOINT_FILE), ckpt);
  };
  const append = (line: MetricsLine) => {
    metrics.append(line);
    history.push(line);
  };

  const sharpness = config.trackSharpness ? sharpnessTracker(net, data.train, config.seed) : null;
  let stopped = false;
  let epochsThisRun = 0;
  let last: EpochMetrics | undefined = [...history].reverse().find((l): l is EpochMetrics => l.kind === 'epoch');
  // --stop-after ends the run at an epoch boundary through the same signal as an interrupt.
  const stop = new AbortController();
  signal?.addEventListener('abort', () => stop.abort(), { once: true });
  try {
    if (progress.epoch < config.epochs) bar.startEpoch(`epoch ${progress.epoch + 1}/${config.epochs}`, batches.batchesPerEpoch, progress.epochSteps, progress.epochLossSum);
    const result = await trainLoop(net, batches, {
      optimizer,
      epochs: config.epochs,
      progress,
      signal: stop.signal,
      augment: augmenter ? (batch) => augmenter.apply(batch) : undefined,
      onStep: async ({ step, epoch, report }) => {
        const tracked = sharpness && step % (config.trackSharpness as number) === 0 ? { sharpness: await sharpness() } : {};
        append({ kind: 'step', step, epoch, ...extras(report), loss: report.loss, ...tracked });
        bar.tick(report.loss);
        if (config.checkpointEvery > 0 && step % config.checkpointEvery === 0) checkpoint();
      },
      onEpoch: async ({ trainLoss }) => {
        // HF's few large steps leave batch norm's momentum averages far behind its parameters
        // (held-out accuracy at chance with them): recompute them on the training set first.
        if (config.optimizer === 'hf') await net.recomputeStatisticsAsync(data.train.inputs, data.train.labels.length);
        last = await endEpoch(net, data, progress, trainLoss, append);
        bar.line(`epoch ${progress.epoch}/${config.epochs}  train loss ${last.trainLoss.toFixed(4)}  ${describeTests(last.test)}  [${clock(seconds())}]`);
        checkpoint();
        writeFileAtomic(join(dir, 'plot.svg'), renderPlot(history, title));
        epochsThisRun++;
        if (f.stopAfter !== undefined && epochsThisRun >= f.stopAfter && progress.epoch < config.epochs) stop.abort();
        else if (progress.epoch < config.epochs) bar.startEpoch(`epoch ${progress.epoch + 1}/${config.epochs}`, batches.batchesPerEpoch, 0, 0);
      },
    }).catch((e: unknown) => {
      if (e instanceof TrainingDiverged) throw new Error(`training diverged at step ${e.step} (batch loss ${e.loss}); try a smaller --lr`);
      throw e;
    });
    stopped = result.stopped;
    if (stopped && signal?.aborted) {
      checkpoint();
      bar.line(`interrupted at step ${progress.step}; checkpoint saved`);
    }
  } finally {
    bar.clear();
    metrics.close();
  }
  writeFileAtomic(join(dir, 'plot.svg'), renderPlot(history, title));
  const summary = summarise(dir, config, data, progress, seconds(), last, stopped, backend.describe());
  writeFileAtomic(join(dir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  io.out(summaryText(summary));
  return summary;
}

/** Puts a checkpoint's state back into the freshly built network, optimizer and iterator. */
function restore(ckpt: Checkpoint, net: Network, optimizer: Optimizer, batches: MiniBatches, augmenter: Augmenter | null, path: string): void {
  const fail = (what: string, e: unknown) => new RunFileError(path, `${what}: ${(e as Error).message.split('\n')[0]}`);
  restoreNetwork(net, ckpt, path);
  try {
    optimizer.loadState(ckpt.optimizer);
  } catch (e) {
    throw fail('optimizer state does not fit', e);
  }
  try {
    batches.loadState(ckpt.batches);
  } catch (e) {
    throw fail('mini-batch state does not fit', e);
  }
  if (augmenter) {
    if (!ckpt.augment) throw new RunFileError(path, 'the run augments its data, but the checkpoint holds no augmentation state');
    augmenter.loadState(ckpt.augment);
  }
}

/** Evaluates every held-out set and writes the epoch's line (the loop has already closed its counters). */
async function endEpoch(net: Network, data: PreparedData, progress: RunProgress, trainLoss: number, append: (l: MetricsLine) => void): Promise<EpochMetrics> {
  const test: Record<string, TestMetrics> = {};
  for (const [name, ds] of Object.entries(data.tests)) test[name] = await evaluate(net, ds);
  const line: EpochMetrics = { kind: 'epoch', epoch: progress.epoch, step: progress.step, trainLoss, test };
  append(line);
  return line;
}

/** The optimizer's own numbers from its step report (learning rate; damping, ρ, CG counts). */
function extras(report: object): Record<string, number | string | boolean> {
  const out: Record<string, number | string | boolean> = {};
  for (const [k, v] of Object.entries(report)) {
    if (k !== 'loss' && (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean')) out[k] = v;
  }
  return out;
}

function describeTests(test: Record<string, TestMetrics>): string {
  return Object.entries(test)
    .map(([name, t]) => `${name} ${percent(t.accuracy)} (loss ${t.loss.toFixed(4)})`)
    .join('  ');
}

/** What a run writes into its directory; --overwrite removes exactly these, nothing else. */
const RUN_FILES = [CHECKPOINT_FILE, CONFIG_FILE, 'metrics.jsonl', 'plot.svg', 'summary.json'];
/** writeFileAtomic's temporaries (".NAME.PID.tmp"): those of dead processes are removed. */
const STALE_TEMP = /^\..+\.(\d+)\.tmp$/;

/**
 * A new run's directory: --out or runs/<experiment>-<UTC time>. An --out that already holds a
 * run is refused (resume it, or replace it with --overwrite); the message says which applies.
 */
function prepareOutDir(out: string | undefined, experiment: string, overwrite: boolean): string {
  if (out !== undefined) {
    const dir = resolve(out);
    if (existsSync(dir) && !statSync(dir).isDirectory()) throw new UsageError(`--out ${out}: exists and is not a directory`);
    if (existsSync(join(dir, CONFIG_FILE))) {
      if (!overwrite) {
        const how = existsSync(join(dir, CHECKPOINT_FILE))
          ? `continue it with --resume ${out}`
          : `it stopped before its first checkpoint; restart it with --resume ${out} (same config, from step 0)`;
        throw new UsageError(`--out ${out} already holds a run; ${how}, or replace it with --overwrite`);
      }
      for (const file of RUN_FILES) rmSync(join(dir, file), { force: true });
    }
    // Found now, not after the first epoch, when the first write would fail on it.
    for (const file of RUN_FILES) {
      const path = join(dir, file);
      if (existsSync(path) && statSync(path).isDirectory()) throw new RunFileError(path, 'is a directory, so it cannot be written as a file');
    }
    return dir;
  }
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  let dir = resolve('runs', `${experiment}-${stamp}`);
  for (let k = 2; existsSync(dir); k++) dir = resolve('runs', `${experiment}-${stamp}-${k}`);
  return dir;
}

function summarise(
  dir: string, config: RunConfig, data: PreparedData, progress: RunProgress, seconds: number, last: EpochMetrics | undefined, stopped: boolean, compute: string,
): RunSummary {
  const test: RunSummary['test'] = {};
  for (const [name, ds] of Object.entries(data.tests)) {
    const t = last?.test[name];
    if (!t) continue;
    const base = majorityBaseline(data.train, ds);
    test[name] = { ...t, baseline: base.accuracy, baselineClass: base.label };
  }
  return { dir, config, epochs: progress.epoch, steps: progress.step, seconds: Math.round(seconds * 10) / 10, compute, test, stopped };
}

function summaryText(s: RunSummary): string {
  const lines = Object.entries(s.test).map(
    ([name, t]) =>
      `${name} accuracy ${percent(t.accuracy)} (${Math.round(t.accuracy * t.n)}/${t.n}); ` +
      `majority-class baseline ${percent(t.baseline)} ('${t.baselineClass}')`,
  );
  if (s.stopped) {
    lines.push(`stopped at step ${s.steps}, ${s.epochs} of ${s.config.epochs} epochs done, ${clock(s.seconds)} of training; continue with: ndcnn train --resume ${s.dir}`);
  } else {
    lines.push(`${s.epochs} epochs, ${s.steps} steps, ${clock(s.seconds)} of training; run in ${s.dir}`);
  }
  return `${lines.join('\n')}\n`;
}
