import { beforeAll, expect, it } from 'vitest';
import { loadMri, type MriVolume } from '../../datasets/mri.js';
import { mriPatches } from '../../datasets/patches.js';
import { describeWithData } from '../data.js';
import { minCrossDistance } from './distance.js';

describeWithData('mri', 'MRI patches of the full 181x217x181 volume', (root) => {
  let volume: MriVolume;
  beforeAll(() => {
    volume = loadMri(root);
  });

  it('the default split: [n, 1, 16, 16, 16] patches of all 7 lobes, no training patch within 16 voxels of a test patch', () => {
    const split = mriPatches(volume, { size: 16, seed: 7 });
    for (const set of [split.train, split.test]) expect(set.shape).toEqual([set.labels.length, 1, 16, 16, 16]);
    expect(new Set(split.train.labels).size).toBe(7);
    expect(minCrossDistance(split.train, split.test)).toBeGreaterThanOrEqual(16);
  });

  it('refuses a patch larger than the volume', () => {
    expect(() => mriPatches(volume, { size: 200 })).toThrow('mriPatches: a 200^3 patch does not fit in the 181x217x181 volume');
  });
});
