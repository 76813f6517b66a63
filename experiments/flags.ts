/**
 * The `train` command's flags, declared once: the CLI builds its yargs options from this table,
 * and `ndcnn sweep` checks a spec's flags against it, so a sweep accepts exactly what `train`
 * accepts. Flags have no yargs defaults on purpose: the experiment supplies them, and a resumed
 * run must be able to tell a flag the user gave from one they did not.
 */
import { GPU_MODES } from '../src/nd/backends/gpu/index.js';

export interface FlagSpec {
  type: 'string' | 'number' | 'boolean';
  describe: string;
}

/** The GPU backend's choices, for train and eval. */
export const GPU_FLAGS = {
  'gpu-mode': { type: 'string', describe: `gpu.js mode to demand (${GPU_MODES.join(' | ')}; default $NDCNN_GPU_MODE, else the best available)` },
  'allow-fallback': { type: 'boolean', describe: 'if the demanded gpu.js mode cannot run, run the best available one (with a warning)' },
} as const satisfies Record<string, FlagSpec>;

export const TRAIN_FLAGS = {
  dataset: { type: 'string', describe: 'data set (image2d: mnist | fashion-mnist)' },
  split: { type: 'string', describe: 'train/test split (audio1d: random | speakers | official)' },
  backend: { type: 'string', describe: 'compute backend, by registered name (default cpu)' },
  ...GPU_FLAGS,
  optimizer: { type: 'string', describe: 'sgd | hf (default sgd)' },
  epochs: { type: 'number', describe: 'passes over the training set' },
  'batch-size': { type: 'number', describe: 'examples per optimizer step' },
  lr: { type: 'number', describe: 'SGD peak learning rate (cosine schedule to 0)' },
  seed: { type: 'number', describe: 'seed of the initial weights and the shuffling (default 1)' },
  'split-seed': { type: 'number', describe: 'seed of the train/test split (default 1)' },
  'data-dir': { type: 'string', describe: 'directory holding the data set folder (default ../shared/data, then the fetch cache)' },
  out: { type: 'string', describe: 'run directory (default runs/<experiment>-<time>)' },
  resume: { type: 'string', describe: 'continue the run in this directory (or from this checkpoint)' },
  'patch-size': { type: 'number', describe: 'mri3d: edge of the cubic patches in voxels (default 16)' },
  shift: { type: 'number', describe: 'augmentation: largest random translation per spatial axis (0 = off)' },
  'max-train': { type: 'number', describe: 'use a seeded subset of this many training examples' },
  'max-test': { type: 'number', describe: 'use a seeded subset of this many held-out examples' },
  'checkpoint-every': { type: 'number', describe: 'also checkpoint every N steps (default: after each epoch only)' },
  'stop-after': { type: 'number', describe: 'stop (resumably) after this many epochs of this invocation' },
  quiet: { type: 'boolean', describe: 'no progress bar; one line per epoch' },
} as const satisfies Record<string, FlagSpec>;

export type TrainFlagName = keyof typeof TRAIN_FLAGS;

/** kebab-case flag name → the camelCase key yargs gives it (batch-size → batchSize). */
export function camel(flag: string): string {
  return flag.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
}
