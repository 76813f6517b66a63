/**
 * What every loader returns: inputs laid out [n, C, ...spatial] row-major (as PyTorch's NCL,
 * NCHW, NCDHW), one integer label per example, and the class names those labels index.
 */
export interface Dataset {
  inputs: Float32Array;
  /** [n, C, ...spatial]. */
  shape: number[];
  labels: Int32Array;
  classes: readonly string[];
}

/** Elements in one example: the product of shape[1..]. */
export function exampleSize(ds: Dataset): number {
  return ds.shape.slice(1).reduce((a, b) => a * b, 1);
}

/** The examples at `indices`, in that order, copied into a new Dataset. */
export function subset(ds: Dataset, indices: ArrayLike<number>): Dataset {
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
