import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DataError } from '../../datasets/errors.js';
import { readNifti } from '../../datasets/nifti.js';
import { FIXTURE_DATA } from '../data.js';
import { makeNifti } from './synth.js';

const MRI = join(FIXTURE_DATA, 'mri');

describe('readNifti on the committed MRI excerpt', () => {
  it('ch2bet and aal crops: 72x80x72 at 1 mm; atlas labels are integers among 0..116', () => {
    const t1 = readNifti(readFileSync(join(MRI, 'ch2bet.nii.gz')), 'ch2bet.nii.gz');
    const aal = readNifti(readFileSync(join(MRI, 'aal.nii.gz')), 'aal.nii.gz');
    for (const v of [t1, aal]) {
      expect(v.dims).toEqual([72, 80, 72]);
      expect(v.pixdim).toEqual([1, 1, 1]);
      expect(v.data.length).toBe(72 * 80 * 72);
    }
    const seen = new Set<number>();
    for (const x of aal.data) seen.add(x);
    expect([...seen].every((x) => Number.isInteger(x) && x >= 0 && x <= 116)).toBe(true);
    expect(seen.has(0)).toBe(true);
    expect(seen.size).toBeGreaterThan(50); // the middle of the brain crosses most regions
    // Skull-stripped T1: zero outside the brain, positive inside.
    expect(t1.data.some((x) => x === 0)).toBe(true);
    expect(t1.data.some((x) => x > 0)).toBe(true);
  });
});

describe('readNifti on synthetic volumes', () => {
  const writers = {
    2: (v: DataView, at: number, x: number) => v.setUint8(at, x),
    4: (v: DataView, at: number, x: number, le: boolean) => v.setInt16(at, x, le),
    8: (v: DataView, at: number, x: number, le: boolean) => v.setInt32(at, x, le),
    16: (v: DataView, at: number, x: number, le: boolean) => v.setFloat32(at, x, le),
    64: (v: DataView, at: number, x: number, le: boolean) => v.setFloat64(at, x, le),
  } as const;
  const cases = [
    ['uint8', 2, 8, [0, 1, 2, 255, 17, 9]],
    ['int16', 4, 16, [0, -1, 32767, -32768, 258, -300]],
    ['int32', 8, 32, [0, -1, 1 << 24, -(1 << 24), 65536, -70000]],
    ['float32', 16, 32, [0, -1.5, 0.25, 1024, -2, 3]],
    ['float64', 64, 64, [0, -1.5, 0.125, 1e6, -2, 3]],
  ] as const;
  const cartesian = cases.flatMap((c) => [true, false].map((le) => [...c, le] as const));

  it.each(cartesian)('%s (code %i, %i bits), little-endian %s: x fastest as stored', (_, datatype, bitpix, values, le) => {
    const file = makeNifti({ dims: [3, 2, 1], datatype, bitpix, pixdim: [0.5, 2, 3], littleEndian: le, values: [...values], put: writers[datatype] });
    for (const b of [file, gzipSync(file)]) {
      const v = readNifti(b, 'x.nii');
      expect(v.dims).toEqual([3, 2, 1]);
      expect(v.pixdim).toEqual([0.5, 2, 3]);
      expect(Array.from(v.data)).toEqual([...values]);
    }
  });

  it('applies scl_slope and scl_inter when the slope is non-zero', () => {
    const values = [0, 1, 2, 100];
    const file = makeNifti({ dims: [2, 2, 1], datatype: 4, bitpix: 16, slope: 0.5, inter: -3, littleEndian: false, values, put: writers[4] });
    // 0.5·v − 3 is exact in float32 for these small integers.
    expect(Array.from(readNifti(file).data)).toEqual(values.map((v) => 0.5 * v - 3));
  });

  it('reads a 4-D file with one volume and refuses one with several', () => {
    const one = makeNifti({ dims: [2, 1, 1, 1], datatype: 2, bitpix: 8, littleEndian: true, values: [5, 6], put: writers[2] });
    expect(Array.from(readNifti(one).data)).toEqual([5, 6]);
    const two = makeNifti({ dims: [2, 1, 1, 2], datatype: 2, bitpix: 8, littleEndian: true, values: [5, 6, 7, 8], put: writers[2] });
    expect(() => readNifti(two, 'fmri.nii')).toThrow(new DataError('fmri.nii', 'dim [2, 1, 1, 2] holds 2 volumes; only one is read'));
  });

  it('rejects bad headers, unsupported types and truncated data with one clear line', () => {
    const base = { dims: [2, 2, 2], datatype: 16, bitpix: 32, littleEndian: true, values: [1, 2, 3, 4, 5, 6, 7, 8], put: writers[16] };
    const file = makeNifti(base);
    expect(() => readNifti(file.subarray(0, 100), 'a.nii')).toThrow('a.nii: 100 bytes is shorter than the 348-byte NIfTI-1 header');
    expect(() => readNifti(file.subarray(0, 370), 'b.nii')).toThrow('b.nii: truncated voxel data (2x2x2 float32 needs 32 bytes at offset 352, 18 present)');
    const rgb = makeNifti({ ...base, datatype: 128, bitpix: 24, values: [] });
    expect(() => readNifti(rgb, 'c.nii')).toThrow('c.nii: unsupported datatype 128');
    const mismatch = makeNifti({ ...base, bitpix: 64 });
    expect(() => readNifti(mismatch, 'd.nii')).toThrow('d.nii: bitpix 64 does not match datatype float32 (32 bits)');
    const notNifti = Uint8Array.from(file);
    notNifti.set([1, 2, 3, 4]);
    expect(() => readNifti(notNifti, 'e.nii')).toThrow(/^e\.nii: sizeof_hdr is \d+, not 348: not a NIfTI-1 file$/);
    const pair = Uint8Array.from(file);
    pair.set([0x6e, 0x69, 0x31, 0], 344);
    expect(() => readNifti(pair, 'f.hdr')).toThrow('f.hdr: a two-file NIfTI (.hdr/.img) header');
  });

  it('a header declaring an absurd volume fails before allocating', () => {
    // 32767^3 float64 voxels would be ~2.8e14 bytes; the file holds 8.
    const huge = makeNifti({ dims: [32767, 32767, 32767], datatype: 64, bitpix: 64, littleEndian: true, values: [1], put: writers[64] });
    expect(() => readNifti(huge, 'huge.nii')).toThrow(/^huge\.nii: truncated voxel data \(32767x32767x32767 float64 needs \d+ bytes at offset 352, 8 present\)$/);
  });
});
