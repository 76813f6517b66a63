import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { subset } from '../../datasets/dataset.js';
import { DataError } from '../../datasets/errors.js';
import { fitCentred, loadFsdd } from '../../datasets/fsdd.js';
import { loadMnist } from '../../datasets/mnist.js';
import { resolveDataDir } from '../../datasets/paths.js';
import { randomSplit } from '../../datasets/splits.js';
import { readWav } from '../../datasets/wav.js';
import { FIXTURE_DATA } from '../data.js';
import { makeWav } from './synth.js';

const temp = mkdtempSync(join(tmpdir(), 'ndcnn-loaders-'));
afterAll(() => rmSync(temp, { recursive: true, force: true }));

describe('loadMnist', () => {
  const ds = loadMnist();

  it('reads the 10,000 digits of the mnist package as [n, 1, 28, 28] in [0, 1], grouped by digit', () => {
    expect(ds.shape).toEqual([10000, 1, 28, 28]);
    expect(ds.inputs.length).toBe(10000 * 784);
    expect(ds.inputs.every((v) => v >= 0 && v <= 1)).toBe(true);
    for (let i = 1; i < ds.labels.length; i++) expect(ds.labels[i]).toBeGreaterThanOrEqual(ds.labels[i - 1]);
    // Example 0 is the first image of the package's digit-0 file, pixel for pixel.
    const file = JSON.parse(readFileSync(createRequire(import.meta.url).resolve('mnist/src/digits/0.json'), 'utf8')).data as number[];
    expect(Array.from(ds.inputs.subarray(0, 784))).toEqual(file.slice(0, 784).map(Math.fround));
  });

  it('a seeded 2,000-digit hold-out by index is the same every time and keeps both sides apart', () => {
    const s = randomSplit(ds.labels.length, 2000, 1);
    const test = subset(ds, s.test);
    expect(test.shape).toEqual([2000, 1, 28, 28]);
    expect(Array.from(test.labels)).toEqual(Array.from(s.test, (i) => ds.labels[i]));
    expect(randomSplit(ds.labels.length, 2000, 1)).toEqual(s);
  });

  it('keeps only the requested digits', () => {
    const two = loadMnist({ digits: [3, 7] });
    expect(new Set(two.labels)).toEqual(new Set([3, 7]));
    expect(two.labels.length).toBe(ds.labels.filter((l) => l === 3 || l === 7).length);
  });
});

describe('loadFsdd', () => {
  const ds = loadFsdd(FIXTURE_DATA);

  it('reads every recording (the 60 of the excerpt) as [n, 1, 8000], labelled by the digit of the file name', () => {
    expect(ds.shape).toEqual([60, 1, 8000]);
    const perSpeaker = new Map<string, number>();
    ds.speakers.forEach((s) => perSpeaker.set(s, (perSpeaker.get(s) ?? 0) + 1));
    expect([...perSpeaker]).toEqual([['george', 20], ['jackson', 20], ['theo', 20]]);
    ds.files.forEach((f, i) => {
      expect(f.startsWith(`${ds.labels[i]}_${ds.speakers[i]}_${ds.takes[i]}.wav`)).toBe(true);
    });
  });

  it('centres each recording in the window: zeros on both sides of a short one', () => {
    const i = ds.files.indexOf('0_george_0.wav');
    const wav = readWav(readFileSync(join(FIXTURE_DATA, 'fsdd', 'recordings', '0_george_0.wav')));
    const n = wav.samples.length;
    expect(n).toBeLessThan(8000);
    const start = Math.floor((8000 - n) / 2);
    const row = ds.inputs.subarray(i * 8000, (i + 1) * 8000);
    expect(Array.from(row.subarray(start, start + n))).toEqual(Array.from(wav.samples));
    expect(row.subarray(0, start).every((v) => v === 0) && row.subarray(start + n).every((v) => v === 0)).toBe(true);
  });

  it('fitCentred crops equal parts of both ends of a long signal', () => {
    const dst = new Float32Array(4);
    fitCentred(dst, Float32Array.of(1, 2, 3, 4, 5, 6, 7));
    expect(Array.from(dst)).toEqual([2, 3, 4, 5]);
    fitCentred(dst, Float32Array.of(9));
    expect(Array.from(dst)).toEqual([0, 9, 0, 0]);
  });

  it('resamples recordings of another rate from an explicit data directory', () => {
    // Two synthetic recordings at 16 kHz: a constant signal stays constant away from the ends.
    const dir = join(temp, 'fsdd', 'recordings');
    mkdirSync(dir, { recursive: true });
    const data = new Uint8Array(2 * 1600);
    const view = new DataView(data.buffer);
    for (let i = 0; i < 1600; i++) view.setInt16(2 * i, 8192, true); // 0.25 of full scale
    writeFileSync(join(dir, '3_zed_0.wav'), makeWav({ format: 1, bits: 16, channels: 1, rate: 16000, data }));
    writeFileSync(join(dir, '4_amy_1.wav'), makeWav({ format: 1, bits: 16, channels: 2, rate: 16000, data }));
    const small = loadFsdd(temp, { rate: 8000, length: 1000 });
    expect(small.shape).toEqual([2, 1, 1000]);
    expect(small.speakers).toEqual(['amy', 'zed']);
    expect(Array.from(small.labels)).toEqual([4, 3]);
    // 1,600 samples at 16 kHz become 800 at 8 kHz, centred in 1,000: [100, 900). The sinc kernel's
    // passband ripple on a constant is below 1e-4 (Kaiser β = 8.6), checked away from the edges.
    const row = small.inputs.subarray(1000, 2000);
    for (let j = 150; j < 850; j++) expect(Math.abs(row[j] - 0.25)).toBeLessThan(1e-4);
    expect(row[50]).toBe(0);
  });

  it('a missing set names where it looked and how to get it', () => {
    expect(() => loadFsdd(join(temp, 'nowhere'))).toThrow(DataError);
    expect(() => resolveDataDir('mri', join(temp, 'nowhere'))).toThrow(/^mri: data set not found in .*nowhere; run `ndcnn fetch mri` \(into .+\) or pass --data-dir DIR holding mri\/$/);
    expect(resolveDataDir('fsdd', temp)).toBe(temp);
  });
});
