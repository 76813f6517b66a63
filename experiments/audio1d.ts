/**
 * audio1d: FSDD spoken digits as raw 8 kHz waveforms (one second, centred, zero-padded or
 * cropped by the data layer) → 1-D CNN → digit. Splits: a seeded random 20 % hold-out, or all
 * recordings of one seeded-chosen speaker held out (unseen voices), or FSDD's own split.
 */
import { fsddOfficialSplit, loadFsdd, pickSpeakers, randomSplit, speakerSplit, subset, type FsddDataset, type Split } from '../datasets/index.js';
import { activation, batchNorm, conv, dense, dropout, flatten, maxPool, type LayerSpec } from '../src/layers/index.js';
import type { Experiment } from './experiment.js';

const TEST_FRACTION = 0.2;

type SplitMaker = (ds: FsddDataset, seed: number) => { split: Split; name: string; what: string };

/** The splits by name: a typed registry, so the CLI lists them and each is one function. */
export const fsddSplits: Record<string, SplitMaker> = {
  random: (ds, seed) => {
    const n = ds.labels.length;
    return { split: randomSplit(n, Math.round(TEST_FRACTION * n), seed), name: 'held-out', what: `random 20 % (seed ${seed})` };
  },
  speakers: (ds, seed) => {
    const held = pickSpeakers(ds.speakers, 1, seed);
    return { split: speakerSplit(ds.speakers, held), name: `speaker ${held.join('+')}`, what: `speaker ${held.join(', ')} held out (seed ${seed})` };
  },
  official: (ds) => ({ split: fsddOfficialSplit(ds.takes), name: 'official test', what: 'takes 0-4 held out (FSDD README)' }),
};

export const audio1d: Experiment = {
  name: 'audio1d',
  description: '1-D CNN on raw FSDD waveforms (8 kHz, 1 s): spoken digit',
  datasets: ['fsdd'],
  splits: () => Object.keys(fsddSplits),
  dataDefaults: { length: 8000 },
  defaults: () => ({
    sgd: { epochs: 24, batchSize: 32, lr: 0.01, weightDecay: 1e-3 },
    hf: { epochs: 3, batchSize: 800, options: { curvatureBatch: 100, maxCgIterations: 20, lambda: 1 } },
    // ±100 ms: the word sits anywhere near the window's centre.
    augmentShift: 800,
  }),
  // Strided first layer as a learned filter bank (32-sample windows = 4 ms at 8 kHz, hop 4),
  // then conv/pool stages that each widen the receptive field 4-fold: 8000 → 1993 → 498 →
  // 491 → 122 → 115 → 28 → 26 → 13 samples, ~1 s of context at the top. Batch norm after each
  // convolution evens out the level differences between speakers; dropout before the classifier.
  network: (_inShape, classes) => [
    ...convBnRelu(32, 32, 4),
    maxPool({ window: 4 }),
    ...convBnRelu(48, 8),
    maxPool({ window: 4 }),
    ...convBnRelu(64, 8),
    maxPool({ window: 4 }),
    ...convBnRelu(96, 3),
    maxPool({ window: 2 }),
    flatten(),
    dropout(0.3),
    dense({ units: classes }),
  ],
  load: ({ split: splitName, splitSeed, dataDir, data }) => {
    const ds = loadFsdd(dataDir, { length: data.length });
    normaliseRms(ds.inputs, data.length);
    const { split, name, what } = fsddSplits[splitName](ds, splitSeed);
    return {
      train: subset(ds, split.train),
      tests: { [name]: subset(ds, split.test) },
      summary: `FSDD: ${split.train.length} training recordings, ${split.test.length} held out: ${what}`,
    };
  },
};

/**
 * Scales each waveform to unit RMS: x ← x / sqrt(mean(x²)). Speakers record at very different
 * levels; without this the first layer's ReLUs see inputs whose scale varies tenfold.
 */
function normaliseRms(x: Float32Array, length: number): void {
  for (let at = 0; at < x.length; at += length) {
    const w = x.subarray(at, at + length);
    let sum = 0;
    for (const v of w) sum += v * v;
    const rms = Math.sqrt(sum / length);
    if (rms > 0) for (let i = 0; i < w.length; i++) w[i] /= rms;
  }
}

/** conv (no activation) → batch norm → ReLU; the conv's bias is dropped, batch norm's β replaces it. */
function convBnRelu(channels: number, kernel: number, stride = 1): LayerSpec[] {
  return [conv({ channels, kernel, stride, bias: false }), batchNorm(), activation('relu')];
}
