/** Held-out evaluation: mean loss and accuracy of a network on a data set, and the majority-class baseline. */
import type { LabeledSet } from '../datasets/index.js';
import type { Network } from '../src/network/index.js';
import { classCounts } from './experiment.js';
import type { TestMetrics } from './metrics.js';

/** Loss (the network's own, mean over examples) and top-1 accuracy on `ds`. */
export async function evaluate(net: Network, ds: LabeledSet): Promise<TestMetrics> {
  const n = ds.labels.length;
  const k = net.outShape[0];
  const z = await net.predictAsync(ds.inputs, n);
  let correct = 0;
  for (let r = 0; r < n; r++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (z[r * k + j] > z[r * k + best]) best = j;
    if (best === ds.labels[r]) correct++;
  }
  return { loss: net.lossFn.value(z, ds.labels, n, k), accuracy: correct / n, n };
}

/** The accuracy of always answering the most frequent class of the training set. */
export function majorityBaseline(train: LabeledSet, test: LabeledSet): { label: string; accuracy: number } {
  const counts = classCounts(train);
  const top = counts.indexOf(Math.max(...counts));
  return { label: train.classes[top], accuracy: classCounts(test)[top] / test.labels.length };
}

export function percent(x: number): string {
  return `${(100 * x).toFixed(2)}%`;
}
