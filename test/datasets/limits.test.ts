/**
 * What a file may demand, and degenerate data: sample rates out of range, resampling cost that
 * follows the window kept (not the recording or the header's claim), non-finite voxels,
 * multi-member gzip, empty sets, and what `fetch` leaves behind. All data is synthesized here.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { DataError } from '../../datasets/errors.js';
import { fetchDataset, installSet } from '../../datasets/fetch.js';
import { fitCentred, fitResampled, loadFsdd } from '../../datasets/fsdd.js';
import { readIdx } from '../../datasets/idx.js';
import { readNifti } from '../../datasets/nifti.js';
import { resample } from '../../datasets/resample.js';
import { processAlive } from '../../datasets/stale.js';
import { MAX_SAMPLE_RATE, MIN_SAMPLE_RATE, readWav } from '../../datasets/wav.js';
import { loadData } from '../../experiments/session.js';
import { sampleConfig } from '../experiments/fixtures/sample-config.js';
import { makeIdx, makeNifti, makeWav } from './synth.js';

const tmp = mkdtempSync(join(tmpdir(), 'ndcnn-limits-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const pcm16 = (n: number) => {
  const b = new Uint8Array(2 * n);
  const v = new DataView(b.buffer);
  for (let i = 0; i < n; i++) v.setInt16(2 * i, Math.round(8000 * Math.sin(i / 7)), true);
  return b;
};

/** The PID of a process that has exited (so no process holds it now, barring reuse). */
function deadPid(): number {
  const pid = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout;
  expect(processAlive(Number(pid))).toBe(false);
  return Number(pid);
}

describe('WAV sample rates', () => {
  it.each([1, MIN_SAMPLE_RATE - 1, MAX_SAMPLE_RATE + 1, 0xffffffff])('%i Hz is refused, naming the rate and the range', (rate) => {
    const file = makeWav({ format: 1, bits: 16, channels: 1, rate, data: pcm16(50) });
    expect(() => readWav(file, 'odd.wav')).toThrow(
      new DataError('odd.wav', `fmt chunk declares a sample rate of ${rate} Hz, outside ${MIN_SAMPLE_RATE}..${MAX_SAMPLE_RATE} Hz`),
    );
  });

  it('the bounds themselves are accepted', () => {
    for (const rate of [MIN_SAMPLE_RATE, MAX_SAMPLE_RATE]) expect(readWav(makeWav({ format: 1, bits: 16, channels: 1, rate, data: pcm16(5) })).sampleRate).toBe(rate);
  });
});

describe('resampling only the window kept', () => {
  // The window is computed by the same arithmetic at the same output indices: bit-identical.
  it.each([
    [8000, 1000, 50_000], // up 8x, long recording: the window is its middle
    [1000, 8000, 300], // up, short: the whole output, centred and padded
    [8000, 44100, 30_000], // down
    [8000, 8000, 9000], // equal rates: a plain centred copy
    [8000, 22050, 5001], // odd lengths: the centre rounds the same way
  ])('to %i Hz from %i Hz, %i samples: equals resampling everything, then cutting', (to, from, n) => {
    const x = Float32Array.from({ length: n }, (_, i) => Math.sin(i / 5) + 0.3 * Math.cos(i / 17));
    const want = new Float32Array(8000);
    fitCentred(want, resample(x, from, to));
    const got = new Float32Array(8000);
    fitResampled(got, x, from, to);
    expect(Array.from(got)).toEqual(Array.from(want));
  });

  it('a long recording at the lowest rate loads as one window (the output, not the recording, sets the cost)', () => {
    // 100 kB at 1 kHz: resampled whole to 8 kHz it would be 400,000 samples; the window is 8,000.
    const dir = join(tmp, 'slow', 'fsdd', 'recordings');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, '0_amy_0.wav'), makeWav({ format: 1, bits: 16, channels: 1, rate: MIN_SAMPLE_RATE, data: pcm16(50_000) }));
    const ds = loadFsdd(join(tmp, 'slow'), { length: 8000 });
    expect(ds.shape).toEqual([1, 1, 8000]);
    expect(ds.inputs.some((v) => v !== 0)).toBe(true);
  });
});

describe('NIfTI voxels must be finite', () => {
  const f32 = (v: DataView, at: number, x: number, le: boolean) => v.setFloat32(at, x, le);
  it.each([NaN, Infinity, -Infinity])('a float32 voxel of %s is refused with its coordinates', (bad) => {
    // 2×3×4, x fastest: index 21 = x 1 + 2·(y 1 + 3·z 3).
    const values = Array.from({ length: 24 }, (_, i) => (i === 21 ? bad : i));
    const file = makeNifti({ dims: [2, 3, 4], datatype: 16, bitpix: 32, littleEndian: true, values, put: f32 });
    expect(() => readNifti(file, 'bad.nii')).toThrow(new DataError('bad.nii', `voxel (1, 1, 3) is ${bad}; the volume must hold finite values`));
  });

  it('scaling that overflows float32 is refused too', () => {
    const file = makeNifti({ dims: [2, 2, 2], datatype: 16, bitpix: 32, slope: 3e38, littleEndian: false, values: [0, 0, 0, 2, 0, 0, 0, 0], put: f32 });
    expect(() => readNifti(file, 'big.nii')).toThrow(/^big\.nii: voxel \(1, 1, 0\) is Infinity/);
  });
});

describe('multi-member gzip', () => {
  it('two concatenated members (cat a.gz b.gz) read as their concatenation', () => {
    const file = makeIdx(0x08, 1, [6, 2], Array.from({ length: 12 }, (_, i) => i * 3), (v, at, x) => v.setUint8(at, x));
    const two = Buffer.concat([gzipSync(file.subarray(0, 7)), gzipSync(file.subarray(7))]);
    expect(readIdx(two, 'two.gz')).toEqual(readIdx(file, 'plain'));
  });

  it('a damaged second member is still refused', () => {
    const file = makeIdx(0x08, 1, [4], [1, 2, 3, 4], (v, at, x) => v.setUint8(at, x));
    const second = gzipSync(file.subarray(5));
    second[second.length - 6] ^= 0xff; // its CRC-32
    expect(() => readIdx(Buffer.concat([gzipSync(file.subarray(0, 5)), second]), 'two.gz')).toThrow(/^two\.gz: corrupt gzip stream \(incorrect data check\)/);
  });
});

describe('empty or degenerate data is refused with the real reason', () => {
  it('one recording: the random split holds nothing out, and says so', () => {
    const dir = join(tmp, 'one', 'fsdd', 'recordings');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, '0_amy_0.wav'), makeWav({ format: 1, bits: 16, channels: 1, rate: 8000, data: pcm16(4000) }));
    const config = { ...sampleConfig(), experiment: 'audio1d', dataset: 'fsdd', split: 'random', dataDir: join(tmp, 'one'), data: { length: 8000 } };
    expect(() => loadData(config)).toThrow(/^fsdd: the held-out set is empty \(FSDD: 1 training recordings, 0 held out/);
  });

  it('a 0-image IDX: the training set is empty, not a schedule error', () => {
    const root = join(tmp, 'zero');
    mkdirSync(join(root, 'fashion-mnist'), { recursive: true });
    const u8 = (v: DataView, at: number, x: number) => v.setUint8(at, x);
    for (const p of ['train', 't10k']) {
      const n = p === 'train' ? 0 : 3;
      writeFileSync(join(root, 'fashion-mnist', `${p}-images-idx3-ubyte.gz`), gzipSync(makeIdx(0x08, 1, [n, 28, 28], new Array(n * 784).fill(7), u8)));
      writeFileSync(join(root, 'fashion-mnist', `${p}-labels-idx1-ubyte.gz`), gzipSync(makeIdx(0x08, 1, [n], new Array(n).fill(1), u8)));
    }
    const config = { ...sampleConfig(), dataset: 'fashion-mnist', split: 'official', dataDir: root };
    expect(() => loadData(config)).toThrow(/^fashion-mnist: the training set is empty \(Fashion-MNIST: 0 training images/);
  });
});

describe('fetch leftovers and permissions', () => {
  it("removes a killed fetch's staging folder, keeps a live one's, and its offline error fits `fetch`", async () => {
    const cache = join(tmp, 'cache');
    const dead = join(cache, `.mri-${deadPid()}-0badf00d`);
    const live = join(cache, `.mri-${process.ppid}-0000beef`);
    mkdirSync(dead, { recursive: true });
    mkdirSync(live);
    writeFileSync(join(dead, 'ch2bet.nii.gz'), 'partial');
    // Port 9 (discard) refuses connections: the download fails as it does offline.
    await expect(fetchDataset('mri', { cacheDir: cache, baseUrl: 'http://127.0.0.1:9' })).rejects.toThrow(
      /cannot download .*; offline\? train and eval read a copy you already have with --data-dir DIR$/,
    );
    expect(existsSync(dead)).toBe(false);
    expect(existsSync(live)).toBe(true);
  });

  it('an installed set is readable by others as the umask allows (not 0700)', () => {
    const old = process.umask(0o022);
    try {
      const dir = installSet(join(tmp, 'shared-cache'), 'fsdd', [{ local: 'recordings/0_amy_0.wav', data: new Uint8Array(4) }]);
      expect(statSync(dir).mode & 0o777).toBe(0o755);
      expect(statSync(join(dir, 'recordings')).mode & 0o777).toBe(0o755);
      expect(statSync(join(dir, 'recordings', '0_amy_0.wav')).mode & 0o777).toBe(0o644);
    } finally {
      process.umask(old);
    }
  });
});
