/**
 * What every loader returns: inputs laid out [n, C, ...spatial] row-major (as PyTorch's NCL,
 * NCHW, NCDHW), one integer label per example, and the class names those labels index.
 * (The optimizers' flat view of the same examples is `Samples`: see samples().)
 */
import type { Samples } from '../src/optim/batches.js';

export interface LabeledSet {
  inputs: Float32Array;
  /** [n, C, ...spatial]. */
  shape: number[];
  labels: Int32Array;
  classes: readonly string[];
}

/** Elements in one example: the product of shape[1..]. */
export function exampleSize(ds: LabeledSet): number {
  return ds.shape.slice(1).reduce((a, b) => a * b, 1);
}

/** The same examples as MiniBatches takes them (flat inputs, labels, example size); no copy. */
export function samples(ds: LabeledSet): Samples {
  return { x: ds.inputs, y: ds.labels, sampleSize: exampleSize(ds) };
}

/** The examples at `indices`, in that order, copied into a new LabeledSet. */
export function subset(ds: LabeledSet, indices: ArrayLike<number>): LabeledSet {
  const size = exampleSize(ds);
  const inputs = new Float32Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const i = indices[k];
    if (!(i >= 0 && i < ds.labels.length)) throw new RangeError(`subset: index ${i} outside [0, ${ds.labels.length})`);
    inputs.set(ds.inputs.subarray(i * size, (i + 1) * size), k * size);
    labels[k] = ds.labels[i];
  }
  return { inputs, shape: [indices.length, ...ds.shape.slice(1)], labels, classes: ds.classes };
}

/** Picks per-example metadata (speakers, file names) at `indices`, in that order. */
export function pick<T>(values: readonly T[], indices: ArrayLike<number>): T[] {
  return Array.from(indices, (i) => values[i]);
}
