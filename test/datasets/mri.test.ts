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

  it('refuses a patch larger than the volume', () => {
    expect(() => mriPatches(volume, { size: 200 })).toThrow('mriPatches: a 200^3 patch does not fit in the 72x80x72 volume');
  });
});
