/**
 * audio1d: FSDD spoken digits, 8 kHz waveforms (one second, centred, zero-padded or cropped by
 * the data layer, scaled to unit RMS) → features → 1-D CNN over time → digit. The features
 * (`--features`, datasets/audio.ts): a log-mel spectrogram (default; 40 bands as channels, 101
 * frames of 10 ms), its MFCCs (20 channels), or the raw waveform (1 channel, 8000 samples).
 * Splits: a seeded random 20 % hold-out, or all recordings of one speaker held out (unseen
 * voices; `--speaker`, else chosen by the split seed), or FSDD's own split.
 */
import { AudioFeatures, type FeatureKind } from '../datasets/audio.js';
import { DataError, fsddOfficialSplit, loadFsdd, pickSpeakers, randomSplit, speakerSplit, subset, type FsddDataset, type LabeledSet, type Split } from '../datasets/index.js';
import { activation, batchNorm, conv, dense, dropout, flatten, globalAvgPool, maxPool, residual, type LayerSpec } from '../src/layers/index.js';
import type { DataSettings, Experiment } from './experiment.js';

const TEST_FRACTION = 0.2;

type SplitMaker = (ds: FsddDataset, seed: number, data?: DataSettings) => { split: Split; name: string; what: string };

/** The splits by name: a typed registry, so the CLI lists them and each is one function. */
export const fsddSplits: Record<string, SplitMaker> = {
  random: (ds, seed) => {
    const n = ds.labels.length;
    return { split: randomSplit(n, Math.round(TEST_FRACTION * n), seed), name: 'held-out', what: `random 20 % (seed ${seed})` };
  },
  speakers: (ds, seed, data) => {
    const named = typeof data?.speaker === 'string';
    const held = named ? [data!.speaker as string] : pickSpeakers(ds.speakers, 1, seed);
    if (named && !ds.speakers.includes(held[0])) {
      throw new DataError('fsdd', `--speaker ${held[0]}: no recordings of that speaker (speakers: ${[...new Set(ds.speakers)].sort().join(', ')})`);
    }
    return { split: speakerSplit(ds.speakers, held), name: `speaker ${held.join('+')}`, what: `speaker ${held.join(', ')} held out${named ? '' : ` (seed ${seed})`}` };
  },
  official: (ds) => ({ split: fsddOfficialSplit(ds.takes), name: 'official test', what: 'takes 0-4 held out (FSDD README)' }),
};

/** The front end's settings: 32 ms Hann windows every 10 ms, 40 mel bands from 20 Hz to 4 kHz, 20 MFCCs. */
const SPECTROGRAM = { rate: 8000, nFft: 256, hop: 80, mels: 40, fMin: 20, coefficients: 20 };

export const audio1d: Experiment = {
  name: 'audio1d',
  description: '1-D CNN on FSDD spoken digits (8 kHz, 1 s) as log-mel spectrograms (or MFCCs, or raw waveforms): digit',
  datasets: ['fsdd'],
  splits: () => Object.keys(fsddSplits),
  // floorDb 0: no floor relative to the peak (runs saved before it read as 0 too).
  dataDefaults: { length: 8000, features: 'logmel', floorDb: 0 },
  // No flip: a word played backwards is not the same word.
  augmentations: ['speed', 'noiseSnr', 'freqMask', 'timeMask', 'labelSmoothing', 'mixup'],
  defaults: () => ({
    // 20 epochs on log-mel features: speaker lucas held out reached 85.6 % (the raw-waveform net's 24: 67 %).
    sgd: { epochs: 20, batchSize: 32, lr: 0.01, weightDecay: 1e-3 },
    hf: { epochs: 3, batchSize: 800, options: { curvatureBatch: 100, maxCgIterations: 20, lambda: 1 } },
    // ±100 ms of the waveform: the word sits anywhere near the window's centre.
    augmentShift: 800,
    // ±10 % speed: other voices are other vocal-tract lengths, which move the formants.
    augment: { speed: 0.1 },
  }),
  network: (inShape, classes) => (inShape[0] === 1 ? rawNetwork(classes) : featureNetwork(classes)),
  load: ({ split: splitName, splitSeed, dataDir, data }) => {
    const length = data.length as number;
    const ds = loadFsdd(dataDir, { length });
    normaliseRms(ds.inputs, length);
    const { split, name, what } = fsddSplits[splitName](ds, splitSeed, data);
    const kind = (data.features ?? 'raw') as FeatureKind;
    const summary = `FSDD: ${split.train.length} training recordings, ${split.test.length} held out: ${what}`;
    if (kind === 'raw') return { train: subset(ds, split.train), tests: { [name]: subset(ds, split.test) }, summary };
    const floorDb = (data.floorDb ?? 0) as number;
    const features = new AudioFeatures(kind, length, floorDb > 0 ? { ...SPECTROGRAM, floorDb } : SPECTROGRAM);
    const waveforms = subset(ds, split.train);
    return {
      train: extractAll(waveforms, features),
      tests: { [name]: extractAll(subset(ds, split.test), features) },
      source: { train: waveforms, features },
      summary: `${summary}; ${kind} features [${features.channels}, ${features.frames}]${floorDb > 0 ? `, floored ${floorDb} dB below each utterance's peak,` : ''} normalised per utterance`,
    };
  },
};

/**
 * Over features [channels, 101 frames]: a 3-wide convolution, then residual stages of two
 * 3-wide convolutions (batch norm before each ReLU; no biases before batch norm), pooled 2× in
 * time between stages, then the mean over the remaining frames (so the digit's position in the
 * window does not matter) into the classifier. Receptive field ~0.5 s.
 */
function featureNetwork(classes: number): LayerSpec[] {
  const block = (c: number): LayerSpec[] => [
    residual([
      conv({ channels: c, kernel: 3, padding: 1, bias: false }),
      batchNorm(),
      activation('relu'),
      conv({ channels: c, kernel: 3, padding: 1, bias: false }),
      batchNorm(),
    ]),
    activation('relu'),
  ];
  return [
    conv({ channels: 48, kernel: 3, padding: 1, bias: false }),
    batchNorm(),
    activation('relu'),
    ...block(48),
    maxPool({ window: 2 }),
    conv({ channels: 96, kernel: 3, padding: 1, bias: false }),
    batchNorm(),
    activation('relu'),
    ...block(96),
    maxPool({ window: 2 }),
    ...block(96),
    globalAvgPool(),
    dropout(0.2),
    dense({ units: classes }),
  ];
}

// Strided first layer as a learned filter bank (32-sample windows = 4 ms at 8 kHz, hop 4),
// then conv/pool stages that each widen the receptive field 4-fold: 8000 → 1993 → 498 →
// 491 → 122 → 115 → 28 → 26 → 13 samples, ~1 s of context at the top.
function rawNetwork(classes: number): LayerSpec[] {
  return [
    conv({ channels: 32, kernel: 32, stride: 4, activation: 'relu' }),
    maxPool({ window: 4 }),
    conv({ channels: 48, kernel: 8, activation: 'relu' }),
    maxPool({ window: 4 }),
    conv({ channels: 64, kernel: 8, activation: 'relu' }),
    maxPool({ window: 4 }),
    conv({ channels: 96, kernel: 3, activation: 'relu' }),
    maxPool({ window: 2 }),
    flatten(),
    dense({ units: classes }),
  ];
}

/** Every example of `set` through `features`, as a new set [n, channels, frames]. */
function extractAll(set: LabeledSet, features: AudioFeatures): LabeledSet {
  const n = set.labels.length;
  const size = set.shape.slice(1).reduce((a, b) => a * b, 1);
  const inputs = new Float32Array(n * features.size);
  for (let i = 0; i < n; i++) features.extract(set.inputs.subarray(i * size, (i + 1) * size), inputs.subarray(i * features.size, (i + 1) * features.size));
  return { inputs, shape: [n, features.channels, features.frames], labels: set.labels, classes: set.classes };
}

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
