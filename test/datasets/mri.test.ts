import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { LOBES, lobeOf, lobesMatching, parseRegions } from '../../datasets/aal.js';
import { loadMri, type MriVolume } from '../../datasets/mri.js';
import { mriPatches } from '../../datasets/patches.js';
import { FIXTURE_DATA } from '../data.js';
import { minCrossDistance } from './distance.js';

describe('AAL lobe grouping', () => {
  const regions = parseRegions(readFileSync(join(FIXTURE_DATA, 'mri', 'aal.nii.txt'), 'utf8'));

  it('lists 116 regions, each matched by exactly one lobe rule', () => {
    expect(regions.length).toBe(116);
    for (const r of regions) expect(lobesMatching(r.name), r.name).toHaveLength(1);
    // Every lobe is used, so no class of the task is empty.
    expect(new Set(regions.map((r) => lobeOf(r.name))).size).toBe(LOBES.length);
  });

  it("agrees with the lobe digit of AAL's own region codes", () => {
    // AAL codes (Tzourio-Mazoyer 2002) start with a digit per group: an independent check of the name rule.
    const byDigit: Record<string, string> = { 2: 'frontal', 3: 'limbic/insular', 4: 'limbic/insular', 5: 'occipital', 6: 'parietal', 7: 'subcortical', 8: 'temporal', 9: 'cerebellum' };
    for (const r of regions) expect(LOBES[lobeOf(r.name)], `${r.name} ${r.code}`).toBe(byDigit[String(r.code)[0]]);
  });

  it('a name matching no rule is a clear error', () => {
    expect(() => lobeOf('Claustrum_L')).toThrow('aal.nii.txt: region "Claustrum_L" matches no lobe rule (needs exactly one)');
  });
});

describe('MRI patches and the block split (on the committed 72x80x72 crop)', () => {
  let volume: MriVolume;
  let split: ReturnType<typeof mriPatches>;
  beforeAll(() => {
    volume = loadMri(FIXTURE_DATA); // decoded once for the whole file
    split = mriPatches(volume, { size: 16, seed: 7 });
  });

  it('gives [n, 1, 16, 16, 16] patches labelled by the lobe of their centre voxel', () => {
    const [X, Y] = volume.dims;
    for (const set of [split.train, split.test]) {
      const n = set.labels.length;
      expect(n).toBeGreaterThan(0);
      expect(set.shape).toEqual([n, 1, 16, 16, 16]);
      for (let p = 0; p < n; p++) {
        const [x, y, z] = set.centres.subarray(3 * p, 3 * p + 3);
        const region = volume.atlas[x + X * (y + Y * z)];
        expect(region).toBeGreaterThan(0);
        const name = volume.regions.find((r) => r.index === region)!.name;
        expect(set.labels[p]).toBe(lobeOf(name));
      }
    }
  });

  it('holds the brain z-scored T1 voxels, patch axis order (z, y, x) with x fastest', () => {
    const [X, Y] = volume.dims;
    let n = 0, sum = 0, sumSq = 0;
    for (const v of volume.t1) if (v > 0) { n++; sum += v; sumSq += v * v; }
    const mean = sum / n;
    const std = Math.sqrt(sumSq / n - mean * mean);
    const set = split.train;
    for (const p of [0, 17, set.labels.length - 1]) {
      const [cx, cy, cz] = set.centres.subarray(3 * p, 3 * p + 3);
      for (const [k, j, i] of [[0, 0, 0], [15, 15, 15], [3, 9, 14], [8, 8, 8]]) {
        const v = volume.t1[cx - 8 + i + X * (cy - 8 + j + Y * (cz - 8 + k))];
        // float32 storage of a float64 z-score: relative error ~6e-8, values are O(1).
        expect(set.inputs[p * 4096 + i + 16 * (j + 16 * k)]).toBeCloseTo((v - mean) / std, 5);
      }
    }
  });

  it('puts no training patch within the patch size of a test patch (Chebyshev distance of centres)', () => {
    const gap = minCrossDistance(split.train, split.test);
    expect(gap).toBeGreaterThanOrEqual(16);
  });

  it('is seeded: the same seed gives the same split, another seed another', () => {
    const again = mriPatches(volume, { size: 16, seed: 7 });
    expect(again.test.centres).toEqual(split.test.centres);
    // Buffer.equals: vitest's deep equality is far too slow on ten million floats.
    expect(Buffer.from(again.train.inputs.buffer).equals(Buffer.from(split.train.inputs.buffer))).toBe(true);
    const other = mriPatches(volume, { size: 16, seed: 8 });
    expect(other.test.centres).not.toEqual(split.test.centres);
    expect(minCrossDistance(other.train, other.test)).toBeGreaterThanOrEqual(16);
  });

  it('keeps the guarantee with small blocks and an odd patch size', () => {
    const s = mriPatches(volume, { size: 9, stride: 9, blocks: 12, seed: 3 });
    expect(s.train.labels.length).toBeGreaterThan(0);
    expect(s.test.labels.length).toBeGreaterThan(0);
    expect(minCrossDistance(s.train, s.test)).toBeGreaterThanOrEqual(9);
  });

  it('with coords, adds x, y, z position channels in [−1, 1] and leaves the T1 channel as it was', () => {
    const [X, Y, Z] = volume.dims;
    const c = mriPatches(volume, { size: 16, seed: 7, coords: true });
    const set = c.train;
    const n = set.labels.length;
    expect(set.shape).toEqual([n, 4, 16, 16, 16]);
    expect(set.centres).toEqual(split.train.centres);
    expect(set.labels).toEqual(split.train.labels);
    const per = 4096;
    for (let p = 0; p < n; p++) {
      // Channel 0 is bit for bit the single-channel patch.
      const t1 = set.inputs.subarray(4 * p * per, (4 * p + 1) * per);
      expect(Buffer.from(t1.buffer, t1.byteOffset, t1.byteLength).equals(Buffer.from(split.train.inputs.buffer, p * per * 4, per * 4))).toBe(true);
    }
    // Known voxels: position (x, y, z) in the volume → 2·x/(X − 1) − 1 and likewise for y, z.
    for (const p of [0, 17, n - 1]) {
      const [cx, cy, cz] = set.centres.subarray(3 * p, 3 * p + 3);
      for (const [k, j, i] of [[0, 0, 0], [15, 15, 15], [3, 9, 14], [8, 8, 8]]) {
        const [x, y, z] = [cx - 8 + i, cy - 8 + j, cz - 8 + k];
        const at = (ch: number) => set.inputs[(4 * p + ch) * per + i + 16 * (j + 16 * k)];
        // float32 of a float64 quotient of small integers: within 6e-8 of the exact value.
        expect(at(1)).toBeCloseTo((2 * x) / (X - 1) - 1, 6);
        expect(at(2)).toBeCloseTo((2 * y) / (Y - 1) - 1, 6);
        expect(at(3)).toBeCloseTo((2 * z) / (Z - 1) - 1, 6);
      }
    }
  });

  it('gives every voxel of a synthetic volume its exact scaled position, ends at −1 and 1', () => {
    // 5×6×7 voxels, all brain and atlas region 1; 2³ patches at stride 1 cover every voxel,
    // including the first and last of each axis.
    const dims: [number, number, number] = [5, 6, 7];
    const [X, Y, Z] = dims;
    const t1 = Float32Array.from({ length: X * Y * Z }, (_, v) => 1 + (v % 13));
    const v: MriVolume = {
      dims, pixdim: [1, 1, 1], t1, atlas: new Int32Array(t1.length).fill(1),
      regions: [], lobeOfRegion: Int32Array.from([-1, 0]), lobes: ['one'],
    };
    const { train, test } = mriPatches(v, { size: 2, stride: 1, blocks: 3, seed: 1, coords: true });
    const seen = [new Set<number>(), new Set<number>(), new Set<number>()];
    for (const set of [train, test]) {
      for (let p = 0; p < set.labels.length; p++) {
        const [x0, y0, z0] = Array.from(set.centres.subarray(3 * p, 3 * p + 3), (c) => c - 1);
        for (let k = 0; k < 2; k++) for (let j = 0; j < 2; j++) for (let i = 0; i < 2; i++) {
          const at = (ch: number) => set.inputs[(4 * p + ch) * 8 + i + 2 * (j + 2 * k)];
          const pos = [x0 + i, y0 + j, z0 + k];
          // The float32 rounding of the exact quotient, whatever order it is computed in.
          pos.forEach((c, axis) => expect(at(axis + 1)).toBe(Math.fround((2 * c) / (dims[axis] - 1) - 1)));
          pos.forEach((c, axis) => seen[axis].add(at(axis + 1)));
        }
      }
    }
    for (const [axis, values] of seen.entries()) {
      expect(Math.min(...values)).toBe(-1);
      expect(Math.max(...values)).toBe(1);
      expect(values.size).toBe(dims[axis]);
    }
  });

  it('refuses a patch larger than the volume', () => {
    expect(() => mriPatches(volume, { size: 200 })).toThrow('mriPatches: a 200^3 patch does not fit in the 72x80x72 volume');
  });
});
