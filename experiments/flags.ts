/**
 * The `train` command's flags, declared once: the CLI builds its yargs options from this table,
 * and `ndcnn sweep` checks a spec's flags against it, so a sweep accepts exactly what `train`
 * accepts. Flags have no yargs defaults on purpose: the experiment supplies them, and a resumed
 * run must be able to tell a flag the user gave from one they did not. Every flag that takes a
 * value demands one (requiresArg): yargs would otherwise read a trailing `--epochs` as "not given".
 */
import { GPU_MODES } from '../src/nd/backends/gpu/index.js';
import { LAMBDA_MAX, LAMBDA_MIN } from '../src/optim/index.js';

export interface FlagSpec {
  type: 'string' | 'number' | 'boolean';
  describe: string;
  requiresArg?: true;
}

/** The GPU backend's choices, for train and eval. */
export const GPU_FLAGS = {
  'gpu-mode': { type: 'string', requiresArg: true, describe: `gpu.js mode to demand (${GPU_MODES.join(' | ')}; default $NDCNN_GPU_MODE, else the best available)` },
  'allow-fallback': { type: 'boolean', describe: 'if the demanded gpu.js mode cannot run, run the best available one (with a warning)' },
} as const satisfies Record<string, FlagSpec>;

export const TRAIN_FLAGS = {
  dataset: { type: 'string', requiresArg: true, describe: 'data set (image2d: mnist | fashion-mnist)' },
  split: { type: 'string', requiresArg: true, describe: 'train/test split (audio1d: random | speakers | official)' },
  backend: { type: 'string', requiresArg: true, describe: 'compute backend, by registered name (default cpu)' },
  ...GPU_FLAGS,
  optimizer: { type: 'string', requiresArg: true, describe: 'sgd | adam | adamw | hf | kfac (default sgd)' },
  epochs: { type: 'number', requiresArg: true, describe: 'passes over the training set' },
  'batch-size': { type: 'number', requiresArg: true, describe: 'examples per optimizer step' },
  lr: { type: 'number', requiresArg: true, describe: 'peak learning rate of sgd/adam/adamw (cosine schedule to 0)' },
  'weight-decay': { type: 'number', requiresArg: true, describe: 'sgd/adamw: decoupled weight decay; adam: L2 (default: the experiment\'s)' },
  warmup: { type: 'number', requiresArg: true, describe: 'sgd/adam/adamw: linear learning-rate warm-up over this many steps, then cosine (default 0)' },
  clip: { type: 'number', requiresArg: true, describe: 'sgd/adam/adamw: clip the gradient to this global L2 norm (default: no clipping)' },
  damping: { type: 'number', requiresArg: true, describe: `HF's initial damping λ₀ (default 1), or K-FAC's damping λ (default 1e-3), in [${LAMBDA_MIN}, ${LAMBDA_MAX}]` },
  seed: { type: 'number', requiresArg: true, describe: 'seed of the initial weights and the shuffling (default 1)' },
  threads: { type: 'number', requiresArg: true, describe: 'CPU threads each pass splits its batch over (default $NDCNN_THREADS, else the machine\'s cores); the result depends on the count, and a resumed run keeps its own' },
  'split-seed': { type: 'number', requiresArg: true, describe: 'seed of the train/test split (default 1)' },
  'data-dir': { type: 'string', requiresArg: true, describe: 'directory holding the data set folder (default $NDCNN_DATA, else ../shared/data, then the fetch cache)' },
  out: { type: 'string', requiresArg: true, describe: 'run directory (default runs/<experiment>-<time>)' },
  overwrite: { type: 'boolean', describe: 'replace the run files of a run already in --out' },
  resume: { type: 'string', requiresArg: true, describe: 'continue the run in this directory (or from this checkpoint)' },
  features: { type: 'string', requiresArg: true, describe: 'audio1d: network input, raw (waveform) | logmel | mfcc (default logmel)' },
  'floor-db': { type: 'number', requiresArg: true, describe: 'audio1d log-mel/MFCC: floor the log-mel values this many dB below each utterance\'s peak (0 = none)' },
  speaker: { type: 'string', requiresArg: true, describe: 'audio1d --split speakers: the speaker held out (default: one chosen by --split-seed)' },
  'patch-size': { type: 'number', requiresArg: true, describe: 'mri3d: edge of the cubic patches in voxels (default 16)' },
  shift: { type: 'number', requiresArg: true, describe: 'augmentation: largest random translation per spatial axis (0 = off)' },
  flip: { type: 'boolean', describe: 'augmentation: mirror the last spatial axis with probability 1/2 (--no-flip: off)' },
  rotate: { type: 'number', requiresArg: true, describe: 'augmentation (image2d): random rotation by up to this many degrees (0 = off)' },
  zoom: { type: 'number', requiresArg: true, describe: 'augmentation (image2d): random scale factor uniform in [1-z, 1+z] (0 = off)' },
  speed: { type: 'number', requiresArg: true, describe: 'augmentation (audio1d): speed factor uniform in [1-s, 1+s], by resampling (0 = off)' },
  'noise-snr': { type: 'number', requiresArg: true, describe: 'augmentation (audio1d): add white noise at this SNR in dB' },
  'freq-mask': { type: 'number', requiresArg: true, describe: 'augmentation (audio1d features): SpecAugment mask of up to N channels (0 = off)' },
  'time-mask': { type: 'number', requiresArg: true, describe: 'augmentation (audio1d features): SpecAugment mask of up to N frames (0 = off)' },
  'label-smoothing': { type: 'number', requiresArg: true, describe: 'soft targets (1-e)·one-hot + e/classes, e in [0, 1) (0 = off)' },
  mixup: { type: 'number', requiresArg: true, describe: 'mixup of batch pairs with λ ~ Beta(α, α), α > 0 (0 = off)' },
  'max-train': { type: 'number', requiresArg: true, describe: 'use a seeded subset of this many training examples' },
  'max-test': { type: 'number', requiresArg: true, describe: 'use a seeded subset of this many held-out examples' },
  'checkpoint-every': { type: 'number', requiresArg: true, describe: 'also checkpoint every N steps (default: after each epoch only)' },
  'track-sharpness': { type: 'number', requiresArg: true, describe: 'log the top Hessian eigenvalue (Lanczos, 256 fixed training samples) every N steps' },
  'stop-after': { type: 'number', requiresArg: true, describe: 'stop (resumably) after this many epochs of this invocation' },
  quiet: { type: 'boolean', describe: 'no progress bar; one line per epoch' },
} as const satisfies Record<string, FlagSpec>;

export type TrainFlagName = keyof typeof TRAIN_FLAGS;

/** kebab-case flag name → the camelCase key yargs gives it (batch-size → batchSize). */
export function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}
