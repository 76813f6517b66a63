import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/nd/rng.js';
import { DataError } from '../../datasets/errors.js';
import { readIdx } from '../../datasets/idx.js';
import { readNifti } from '../../datasets/nifti.js';
import { readWav } from '../../datasets/wav.js';
import { FIXTURE_DATA } from '../data.js';

/**
 * Seeded corruption of real files: each case either truncates the file at a random length or
 * flips a few random bytes (half the time inside the first `headerBytes`, where the fields
 * live). A reader may accept a corrupted file (a flipped sample is still a valid file) or throw
 * DataError; any other exception is a bug. Every reader is one linear pass over bounded input,
 * so a hang would show as the test's timeout.
 */
function fuzz(read: (b: Uint8Array) => unknown, file: Uint8Array, cases: number, seed: number, headerBytes: number) {
  const rng = new Rng(seed);
  const outcome = { accepted: 0, dataError: 0, other: [] as string[] };
  for (let c = 0; c < cases; c++) {
    let bytes: Uint8Array;
    if (c % 2 === 0) {
      bytes = file.subarray(0, rng.int(file.length));
    } else {
      bytes = new Uint8Array(file); // a copy (Buffer.slice would be a view)
      const flips = 1 + rng.int(8);
      for (let k = 0; k < flips; k++) {
        const at = rng.uniform() < 0.5 ? rng.int(Math.min(headerBytes, file.length)) : rng.int(file.length);
        bytes[at] = rng.int(256);
      }
    }
    try {
      read(bytes);
      outcome.accepted++;
    } catch (e) {
      if (e instanceof DataError) outcome.dataError++;
      else outcome.other.push(`case ${c}: ${String(e)}`);
    }
  }
  return outcome;
}

describe('fuzz: corrupted real files (the committed excerpts) fail only with DataError', () => {
  it.each(['0_george_0.wav', '5_jackson_30.wav', '9_theo_30.wav'])('readWav on %s, 150 cases', (file) => {
    const bytes = readFileSync(join(FIXTURE_DATA, 'fsdd', 'recordings', file));
    const out = fuzz((b) => readWav(b, file), bytes, 150, 11, 64);
    expect(out.other).toEqual([]);
    expect(out.dataError).toBeGreaterThan(0); // truncations must be caught, not read as shorter audio
  });

  it('readIdx on Fashion-MNIST train labels, gzipped and inflated, 200 cases each', () => {
    const gz = readFileSync(join(FIXTURE_DATA, 'fashion-mnist', 'train-labels-idx1-ubyte.gz'));
    for (const [bytes, seed] of [[gz, 21], [gunzipSync(gz), 22]] as const) {
      const out = fuzz((b) => readIdx(b, 'train-labels'), bytes, 200, seed, 16);
      expect(out.other).toEqual([]);
      expect(out.dataError).toBeGreaterThan(0);
    }
  });

  it('readIdx on Fashion-MNIST t10k images (inflated), 60 cases', () => {
    const raw = gunzipSync(readFileSync(join(FIXTURE_DATA, 'fashion-mnist', 't10k-images-idx3-ubyte.gz')));
    const out = fuzz((b) => readIdx(b, 't10k-images'), raw, 60, 23, 16);
    expect(out.other).toEqual([]);
  });

  it('readNifti on aal.nii.gz, gzipped (60 cases) and inflated (200 cases)', () => {
    const gz = readFileSync(join(FIXTURE_DATA, 'mri', 'aal.nii.gz'));
    for (const [bytes, cases, seed] of [[gz, 60, 31], [gunzipSync(gz), 200, 32]] as const) {
      const out = fuzz((b) => readNifti(b, 'aal.nii'), bytes, cases, seed, 352);
      expect(out.other).toEqual([]);
      expect(out.dataError).toBeGreaterThan(0);
    }
  }, 60_000);
});
