import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOBES, lobeOf, parseRegions, type Region } from './aal.js';
import { DataError } from './errors.js';
import { readNifti } from './nifti.js';
import { resolveDataDir } from './paths.js';

/** The T1 volume and its atlas on one grid, x fastest (index x + X·(y + Y·z)). */
export interface MriVolume {
  dims: [number, number, number];
  pixdim: [number, number, number];
  /** T1 intensities as stored (skull-stripped: 0 outside the brain). */
  t1: Float32Array;
  /** AAL region index per voxel, 0 outside the atlas. */
  atlas: Int32Array;
  regions: Region[];
  /** Lobe label (index into `lobes`) per region index; -1 for index 0 and unlisted indices. */
  lobeOfRegion: Int32Array;
  lobes: readonly string[];
}

/** Reads `<dataDir>/mri/{ch2bet.nii.gz, aal.nii.gz, aal.nii.txt}` and checks they fit together. */
export function loadMri(dataDir?: string): MriVolume {
  const dir = join(resolveDataDir('mri', dataDir), 'mri');
  const t1 = readNifti(readFileSync(join(dir, 'ch2bet.nii.gz')), 'mri/ch2bet.nii.gz');
  const aal = readNifti(readFileSync(join(dir, 'aal.nii.gz')), 'mri/aal.nii.gz');
  const regions = parseRegions(readFileSync(join(dir, 'aal.nii.txt'), 'utf8'), 'mri/aal.nii.txt');
  if (t1.dims.join() !== aal.dims.join()) {
    throw new DataError('mri/aal.nii.gz', `atlas grid ${aal.dims.join('x')} differs from the T1 grid ${t1.dims.join('x')}`);
  }
  const maxIndex = Math.max(...regions.map((r) => r.index));
  const lobeOfRegion = new Int32Array(maxIndex + 1).fill(-1);
  for (const r of regions) lobeOfRegion[r.index] = lobeOf(r.name);

  const atlas = new Int32Array(aal.data.length);
  for (let i = 0; i < atlas.length; i++) {
    const v = aal.data[i];
    if (!(Number.isInteger(v) && v >= 0 && v <= maxIndex && (v === 0 || lobeOfRegion[v] >= 0))) {
      throw new DataError('mri/aal.nii.gz', `voxel ${i} holds ${v}, which is no region of aal.nii.txt (1..${maxIndex})`);
    }
    atlas[i] = v;
  }
  return { dims: t1.dims, pixdim: t1.pixdim, t1: t1.data, atlas, regions, lobeOfRegion, lobes: LOBES };
}
