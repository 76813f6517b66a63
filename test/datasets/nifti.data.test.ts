import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { readNifti } from '../../datasets/nifti.js';
import { describeWithData } from '../data.js';

describeWithData('mri', 'readNifti on the full MRI files', (root) => {
  it('ch2bet and aal: 181x217x181 at 1 mm; atlas labels are the integers 0..116', () => {
    const t1 = readNifti(readFileSync(join(root, 'mri', 'ch2bet.nii.gz')), 'ch2bet.nii.gz');
    const aal = readNifti(readFileSync(join(root, 'mri', 'aal.nii.gz')), 'aal.nii.gz');
    for (const v of [t1, aal]) {
      expect(v.dims).toEqual([181, 217, 181]);
      expect(v.pixdim).toEqual([1, 1, 1]);
      expect(v.data.length).toBe(181 * 217 * 181);
    }
    const seen = new Set<number>();
    for (const x of aal.data) seen.add(x);
    expect([...seen].every((x) => Number.isInteger(x))).toBe(true);
    expect(Math.min(...seen)).toBe(0);
    expect(Math.max(...seen)).toBe(116);
    expect(seen.size).toBe(117); // every region is present on the grid
    // Skull-stripped T1: zero around the brain, positive inside; the corner voxel is background.
    expect(t1.data[0]).toBe(0);
    expect(t1.data.some((x) => x > 0)).toBe(true);
  });
});
