/**
 * --track-sharpness: the top eigenvalue of the training-loss Hessian at the current parameters,
 * on a fixed seeded subset of the training set, by a few Lanczos steps from a seeded start.
 * It depends only on the parameters, so a resumed run logs exactly the same values.
 */
import { subset, type LabeledSet } from '../datasets/index.js';
import { CurvatureOperator, topEigenpairsAsync } from '../src/analysis/index.js';
import type { Network } from '../src/network/index.js';
import { Rng } from '../src/nd/rng.js';

/** Samples the sharpness is measured on (the full training set would cost an epoch per check). */
const SHARPNESS_SAMPLES = 256;
/** Lanczos steps: the top eigenvalue converges first, to ~1e-3 in 20 steps on our nets. */
const STEPS = 20;

/** A function measuring it now; it resolves at once on a backend that reads back synchronously. */
export function sharpnessTracker(net: Network, train: LabeledSet, seed: number): () => Promise<number> {
  const n = train.labels.length;
  const picked = subset(train, new Rng(seed + 3).permutation(n).subarray(0, Math.min(SHARPNESS_SAMPLES, n)));
  const batch = { x: picked.inputs, y: picked.labels, n: picked.labels.length };
  return async () => (await topEigenpairsAsync(new CurvatureOperator(net, batch), { k: 1, tol: 1e-3, maxSteps: STEPS, seed: seed + 4, verify: false })).values[0];
}
