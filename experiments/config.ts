/**
 * The resolved configuration of a run: every choice the run depends on, after experiment
 * defaults and command-line overrides, written to config.json and into every checkpoint so a
 * run can be resumed or evaluated from its files alone.
 */
import type { LayerSpec } from '../src/layers/index.js';
import type { LossName } from '../src/layers/index.js';
import type { OptimizerName } from '../src/optim/index.js';
import type { AugmentOptions } from './augment.js';
import { UsageError } from './errors.js';
import type { DataSettings } from './experiment.js';

export interface RunConfig {
  experiment: string;
  dataset: string;
  split: string;
  /** Seed of the train/test split (kept apart from `seed`, so a new training seed keeps the held-out set). */
  splitSeed: number;
  backend: string;
  optimizer: OptimizerName;
  /** Exactly what createOptimizer receives, learning-rate schedule included. */
  optimizerOptions: Record<string, unknown>;
  epochs: number;
  batchSize: number;
  /** Seed of the initial weights and of the mini-batch shuffling. */
  seed: number;
  /** CPU threads each pass splits its batch over (absent in runs saved before threads: 1). */
  threads?: number;
  dataDir: string | null;
  /** Experiment-specific data settings (patch size, waveform length, audio features), as the experiment reads them. */
  data: DataSettings;
  /** Largest random translation per spatial axis applied to training examples (augment.ts); 0 = none. */
  augmentShift: number;
  /** The other augmentations (augment.ts); absent in runs saved before them: none. */
  augment?: AugmentOptions;
  /** Use only this many training / test examples (a seeded subset), for smoke runs; null = all. */
  maxTrain: number | null;
  maxTest: number | null;
  /** Save a checkpoint every this many steps as well as after every epoch; 0 = epochs only. */
  checkpointEvery: number;
  /** Log the sharpness (top Hessian eigenvalue) every this many steps; 0 or absent = off. */
  trackSharpness?: number;
  inShape: number[];
  network: LayerSpec[];
  loss: LossName;
}

/** Keys a RunConfig read from disk must have, with the type each must be (checked on load). */
const FIELD_TYPES: Record<keyof RunConfig, 'string' | 'number' | 'object' | 'nullable-string' | 'nullable-number' | 'optional-number' | 'optional-object'> = {
  experiment: 'string',
  dataset: 'string',
  split: 'string',
  splitSeed: 'number',
  backend: 'string',
  optimizer: 'string',
  optimizerOptions: 'object',
  epochs: 'number',
  batchSize: 'number',
  seed: 'number',
  threads: 'optional-number',
  dataDir: 'nullable-string',
  data: 'object',
  augmentShift: 'number',
  augment: 'optional-object',
  maxTrain: 'nullable-number',
  maxTest: 'nullable-number',
  checkpointEvery: 'number',
  trackSharpness: 'optional-number',
  inShape: 'object',
  network: 'object',
  loss: 'string',
};

/** Checks that `value` has every field of a RunConfig with the right type; `file` names the source. */
export function readConfig(value: unknown, file: string, fail: (file: string, problem: string) => Error): RunConfig {
  if (typeof value !== 'object' || value === null) throw fail(file, 'config is not an object');
  const v = value as Record<string, unknown>;
  for (const [key, type] of Object.entries(FIELD_TYPES)) {
    const x = v[key];
    const ok =
      type === 'nullable-string' ? x === null || typeof x === 'string'
      : type === 'nullable-number' ? x === null || typeof x === 'number'
      : type === 'optional-number' ? x === undefined || typeof x === 'number'
      : type === 'optional-object' ? x === undefined || (typeof x === 'object' && x !== null)
      : type === 'object' ? typeof x === 'object' && x !== null
      : typeof x === type;
    if (!ok) throw fail(file, `config field '${key}' should be ${type.replace('nullable-', 'null or ').replace('optional-', 'absent or ')}, got ${JSON.stringify(x)}`);
  }
  // The bounds `train` puts on the flags these come from: an edited file (a batch size of 0, a
  // negative subset) would otherwise fail later without naming it, or run on nonsense.
  for (const [key, min] of Object.entries(INTEGER_FIELDS)) {
    const x = v[key];
    if (x !== undefined && x !== null && !(Number.isSafeInteger(x) && (x as number) >= min)) throw fail(file, `config field '${key}' should be an integer ≥ ${min}, got ${typeof x === 'number' ? x : JSON.stringify(x)}`);
  }
  return v as unknown as RunConfig;
}

/** The whole-number fields of a RunConfig and their least values (null or absent ones pass: their type is checked above). */
const INTEGER_FIELDS: Partial<Record<keyof RunConfig, number>> = {
  splitSeed: 0, epochs: 1, batchSize: 1, seed: 0, threads: 1, augmentShift: 0, maxTrain: 1, maxTest: 1, checkpointEvery: 0, trackSharpness: 0,
};

/** A flag that must be a whole number ≥ `min`; `undefined` (not given) passes through. */
export function checkInteger(flag: string, value: number | undefined, min: number): number | undefined {
  if (value === undefined) return undefined;
  if (!(Number.isInteger(value) && value >= min)) {
    throw new UsageError(`--${flag} must be an integer ≥ ${min}, got ${Number.isNaN(value) ? 'a non-number' : value}`);
  }
  return value;
}

/** A flag that must be a finite number ≥ 0. */
export function checkNonNegative(flag: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!(Number.isFinite(value) && value >= 0)) {
    throw new UsageError(`--${flag} must be a finite number ≥ 0, got ${Number.isNaN(value) ? 'a non-number' : value}`);
  }
  return value;
}

/** A flag that must be a finite number > 0. */
export function checkPositive(flag: string, value: number | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!(Number.isFinite(value) && value > 0)) {
    throw new UsageError(`--${flag} must be a finite number > 0, got ${Number.isNaN(value) ? 'a non-number' : value}`);
  }
  return value;
}
