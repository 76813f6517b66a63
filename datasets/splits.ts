import { Rng } from '../src/nd/rng.js';

/** Indices of the training and the held-out examples, each ascending. */
export interface Split {
  train: Int32Array;
  test: Int32Array;
}

/**
 * A seeded random hold-out: `testCount` of the indices 0..n-1 (the first `testCount` of a
 * seeded permutation) are held out, the rest train. Same (n, testCount, seed), same split;
 * e.g. randomSplit(10000, 2000, seed) for the MNIST package's digits.
 */
export function randomSplit(n: number, testCount: number, seed: number): Split {
  if (!(Number.isInteger(testCount) && testCount >= 0 && testCount <= n)) {
    throw new RangeError(`randomSplit: test count ${testCount} is not in 0..${n}`);
  }
  const isTest = new Uint8Array(n);
  const perm = new Rng(seed).permutation(n);
  for (let k = 0; k < testCount; k++) isTest[perm[k]] = 1;
  return fromMask(isTest);
}

/** Holds out every example of the named speakers, so the test measures unseen voices. */
export function speakerSplit(speakers: readonly string[], testSpeakers: readonly string[]): Split {
  const known = new Set(speakers);
  const missing = testSpeakers.filter((s) => !known.has(s));
  if (missing.length) throw new RangeError(`speakerSplit: no examples of ${missing.join(', ')} (speakers: ${[...known].sort().join(', ')})`);
  const held = new Set(testSpeakers);
  return fromMask(Uint8Array.from(speakers, (s) => (held.has(s) ? 1 : 0)));
}

/** `count` distinct speakers drawn by a seeded shuffle of the sorted speaker names, sorted. */
export function pickSpeakers(speakers: readonly string[], count: number, seed: number): string[] {
  const names = [...new Set(speakers)].sort();
  if (!(Number.isInteger(count) && count >= 1 && count < names.length)) {
    throw new RangeError(`pickSpeakers: cannot hold out ${count} of ${names.length} speakers and keep one for training`);
  }
  return new Rng(seed).shuffle(names).slice(0, count).sort();
}

/** FSDD's own split (its README): takes 0..4 of every speaker and digit are the test set. */
export function fsddOfficialSplit(takes: ArrayLike<number>): Split {
  return fromMask(Uint8Array.from(takes, (t) => (t < 5 ? 1 : 0)));
}

/**
 * Chooses which blocks of a grid are held out: a seeded shuffle of the `occupied` blocks (those
 * that hold examples), the first round(fraction·m) of them, at least one and at most m − 1.
 * Returns 1 per test block. Whole blocks go one way, so neighbours inside a block never straddle
 * the split; mriPatches adds the guard that keeps patches across block faces apart.
 */
export function blockSplit(occupied: Uint8Array, testFraction: number, seed: number): Uint8Array {
  if (!(testFraction > 0 && testFraction < 1)) throw new RangeError(`blockSplit: test fraction ${testFraction} is not in (0, 1)`);
  const candidates: number[] = [];
  occupied.forEach((o, b) => {
    if (o) candidates.push(b);
  });
  if (candidates.length < 2) throw new RangeError(`blockSplit: ${candidates.length} occupied block(s); a split needs at least 2`);
  const m = candidates.length;
  const count = Math.min(m - 1, Math.max(1, Math.round(testFraction * m)));
  new Rng(seed).shuffle(candidates);
  const isTest = new Uint8Array(occupied.length);
  for (let k = 0; k < count; k++) isTest[candidates[k]] = 1;
  return isTest;
}

function fromMask(isTest: Uint8Array): Split {
  let nTest = 0;
  for (const t of isTest) nTest += t;
  const train = new Int32Array(isTest.length - nTest);
  const test = new Int32Array(nTest);
  for (let i = 0, a = 0, b = 0; i < isTest.length; i++) {
    if (isTest[i]) test[b++] = i;
    else train[a++] = i;
  }
  return { train, test };
}
