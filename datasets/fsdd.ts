import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabeledSet } from './dataset.js';
import { DataError } from './errors.js';
import { resolveDataDir } from './paths.js';
import { resampledLength, resampleInto } from './resample.js';
import { readWav } from './wav.js';

export interface FsddOptions {
  /** Sample rate of the returned waveforms in Hz (FSDD is recorded at 8000). */
  rate?: number;
  /** Samples per example; default one second at `rate`, which covers over 99% of recordings whole. */
  length?: number;
}

/** FSDD as [n, 1, length] waveforms, with the speaker, file and take index of each example. */
export interface FsddDataset extends LabeledSet {
  speakers: string[];
  files: string[];
  /** The take number in the file name; the official split tests takes 0..4 (fsdd README). */
  takes: Int32Array;
}

/** `{digit}_{speaker}_{take}.wav`, the naming of the FSDD repository. */
const FILE_NAME = /^([0-9])_([a-z]+)_([0-9]+)\.wav$/;

/**
 * Reads every `<dataDir>/fsdd/recordings/*.wav`, ordered by speaker, digit, then take. Each
 * waveform is resampled to `rate` (windowed sinc) and fitted to `length` around its centre:
 * shorter ones are padded with zeros equally on both sides (the extra sample at the end), longer
 * ones lose equal parts of both ends. The recordings are trimmed to the spoken digit, so the
 * centre keeps the word; a convolutional net does not care where in the window it sits.
 */
export function loadFsdd(dataDir: string | undefined, opts: FsddOptions = {}): FsddDataset {
  const rate = opts.rate ?? 8000;
  const length = opts.length ?? Math.round(rate);
  if (!(rate > 0 && Number.isFinite(rate))) throw new RangeError(`loadFsdd: rate ${rate} Hz is not positive`);
  if (!(Number.isInteger(length) && length > 0)) throw new RangeError(`loadFsdd: length ${length} is not a positive integer`);
  const dir = join(resolveDataDir('fsdd', dataDir), 'fsdd', 'recordings');
  const entries = readdirSync(dir)
    .filter((f) => f.endsWith('.wav'))
    .map((file) => {
      const m = FILE_NAME.exec(file);
      if (!m) throw new DataError(`fsdd/recordings/${file}`, 'file name is not {digit}_{speaker}_{take}.wav');
      return { file, digit: Number(m[1]), speaker: m[2], take: Number(m[3]) };
    })
    .sort((a, b) => (a.speaker < b.speaker ? -1 : a.speaker > b.speaker ? 1 : a.digit - b.digit || a.take - b.take));
  if (entries.length === 0) throw new DataError('fsdd/recordings', `no .wav files in ${dir}`);

  const n = entries.length;
  const inputs = new Float32Array(n * length);
  const labels = new Int32Array(n);
  const takes = new Int32Array(n);
  entries.forEach((e, i) => {
    const name = `fsdd/recordings/${e.file}`;
    const wav = readWav(readFileSync(join(dir, e.file)), name);
    fitResampled(inputs.subarray(i * length, (i + 1) * length), wav.samples, wav.sampleRate, rate);
    labels[i] = e.digit;
    takes[i] = e.take;
  });
  return {
    inputs,
    shape: [n, 1, length],
    labels,
    classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    speakers: entries.map((e) => e.speaker),
    files: entries.map((e) => e.file),
    takes,
  };
}

/**
 * fitCentred(dst, resample(src, from, to)), computing only the resampled samples that land in
 * dst: the cost follows dst's length, not the recording's (nor a header's claimed rate).
 */
export function fitResampled(dst: Float32Array, src: Float32Array, fromRate: number, toRate: number): void {
  const total = resampledLength(src.length, fromRate, toRate);
  if (total >= dst.length) {
    resampleInto(dst, src, fromRate, toRate, Math.floor((total - dst.length) / 2));
    return;
  }
  const y = new Float32Array(total);
  resampleInto(y, src, fromRate, toRate);
  fitCentred(dst, y);
}

/** Copies the middle of `src` into the middle of `dst` (zeroed), whichever is longer. */
export function fitCentred(dst: Float32Array, src: Float32Array): void {
  dst.fill(0);
  if (src.length >= dst.length) {
    const from = Math.floor((src.length - dst.length) / 2);
    dst.set(src.subarray(from, from + dst.length));
  } else {
    dst.set(src, Math.floor((dst.length - src.length) / 2));
  }
}
