import type { LabeledSet } from './dataset.js';
import { DataError } from './errors.js';
import type { MriVolume } from './mri.js';
import { blockSplit } from './splits.js';

export interface PatchOptions {
  /** Edge of the cubic patch in voxels (default 16). */
  size?: number;
  /** Step between patch corners along each axis (default size / 2, rounded down, at least 1). */
  stride?: number;
  /** Edge of the cubic blocks the volume is cut into for the split (default 3 · size). */
  blocks?: number;
  /** Share of the occupied blocks held out for testing (default 0.2). */
  testFraction?: number;
  seed?: number;
  /**
   * Adds three position channels after the T1 one (default false): each voxel's x, y and z in
   * the volume, scaled to [−1, 1] per axis (2·i / (dim − 1) − 1). A patch shows local anatomy
   * but not where in the brain it lies; lobes are spatial regions ("CoordConv", Liu et al. 2018).
   */
  coords?: boolean;
}

/**
 * Patches [n, c, s, s, s] (z, y, x of the volume, x fastest) and the voxel (x, y, z) each is
 * labelled by; c is 1 (T1) or, with `coords`, 4 (T1, x, y, z positions).
 */
export interface PatchSet extends LabeledSet {
  /** The centre voxel (x, y, z) of each patch, as [n, 3]: corner + floor(size / 2). */
  centres: Int32Array;
}

export interface PatchSplit {
  train: PatchSet;
  test: PatchSet;
  /** Patches left out because they reach into a block of the other side of the split. */
  dropped: number;
}

/**
 * Cuts the T1 volume into cubic patches on a regular grid, labels each by the lobe of its centre
 * voxel (only centres inside the atlas are used) and splits them by spatial blocks.
 *
 * Intensities are z-scored once over the brain (voxels with T1 > 0): (v − μ) / σ.
 * Split: the volume is cut into blocks of `blocks` voxels; a seeded shuffle sends whole blocks to
 * test (splits.blockSplit). A patch goes with its centre's block, and is kept only when every
 * block its footprint touches went the same way. So a training and a test patch never share a
 * voxel: their centres differ by at least `size` along some axis (Chebyshev distance ≥ size).
 */
export function mriPatches(volume: MriVolume, opts: PatchOptions = {}): PatchSplit {
  const size = opts.size ?? 16;
  const stride = opts.stride ?? Math.max(1, Math.floor(size / 2));
  const block = opts.blocks ?? 3 * size;
  const [X, Y, Z] = volume.dims;
  for (const [what, v] of [['size', size], ['stride', stride], ['blocks', block]] as const) {
    if (!(Number.isInteger(v) && v >= 1)) throw new RangeError(`mriPatches: ${what} ${v} is not a positive integer`);
  }
  if (size > Math.min(X, Y, Z)) {
    throw new RangeError(`mriPatches: a ${size}^3 patch does not fit in the ${X}x${Y}x${Z} volume`);
  }
  const norm = brainZScore(volume.t1);
  const half = Math.floor(size / 2);
  const nb = [Math.ceil(X / block), Math.ceil(Y / block), Math.ceil(Z / block)];
  const blockOf = (x: number, y: number, z: number) =>
    Math.floor(x / block) + nb[0] * (Math.floor(y / block) + nb[1] * Math.floor(z / block));

  // Candidate corners: the grid of patches inside the volume whose centre lies in the atlas.
  const corners: number[] = [];
  const occupied = new Uint8Array(nb[0] * nb[1] * nb[2]);
  for (let z = 0; z + size <= Z; z += stride) {
    for (let y = 0; y + size <= Y; y += stride) {
      for (let x = 0; x + size <= X; x += stride) {
        if (volume.atlas[x + half + X * (y + half + Y * (z + half))] > 0) {
          corners.push(x, y, z);
          occupied[blockOf(x + half, y + half, z + half)] = 1;
        }
      }
    }
  }
  const isTest = blockSplit(occupied, opts.testFraction ?? 0.2, opts.seed ?? 0);

  const kept: number[][] = [[], []];
  let dropped = 0;
  for (let k = 0; k < corners.length; k += 3) {
    const [x, y, z] = [corners[k], corners[k + 1], corners[k + 2]];
    const side = isTest[blockOf(x + half, y + half, z + half)];
    if (footprintSide(isTest, blockOf, x, y, z, size, block) === side) kept[side].push(x, y, z);
    else dropped++;
  }
  const coords = opts.coords ?? false;
  return { train: gather(volume, norm, kept[0], size, coords), test: gather(volume, norm, kept[1], size, coords), dropped };
}

/** The side (0 train, 1 test) shared by every block the patch at corner (x, y, z) touches, or -1. */
function footprintSide(
  isTest: Uint8Array,
  blockOf: (x: number, y: number, z: number) => number,
  x: number, y: number, z: number, size: number, block: number,
): number {
  const first = isTest[blockOf(x, y, z)];
  const last = size - 1;
  for (let bz = Math.floor(z / block); bz <= Math.floor((z + last) / block); bz++) {
    for (let by = Math.floor(y / block); by <= Math.floor((y + last) / block); by++) {
      for (let bx = Math.floor(x / block); bx <= Math.floor((x + last) / block); bx++) {
        if (isTest[blockOf(bx * block, by * block, bz * block)] !== first) return -1;
      }
    }
  }
  return first;
}

/** (v − μ) / σ over the voxels with v > 0, into a new volume (the background becomes −μ/σ). */
function brainZScore(t1: Float32Array): Float32Array {
  let n = 0;
  let sum = 0;
  let sumSq = 0;
  for (const v of t1) {
    if (v > 0) {
      n++;
      sum += v;
      sumSq += v * v;
    }
  }
  const mean = sum / n;
  const std = Math.sqrt(Math.max(0, sumSq / n - mean * mean));
  if (!(n > 0 && std > 0)) throw new DataError('mri/ch2bet.nii.gz', `T1 has ${n} brain voxels with spread ${std}: nothing to normalise`);
  const out = new Float32Array(t1.length);
  for (let i = 0; i < t1.length; i++) out[i] = (t1[i] - mean) / std;
  return out;
}

/**
 * Copies the patches at `corners` (x, y, z triples) out of the normalised volume, one x-row at a
 * time, and with `coords` fills channels 1–3 with each voxel's scaled x, y and z.
 */
function gather(volume: MriVolume, norm: Float32Array, corners: number[], size: number, coords: boolean): PatchSet {
  const [X, Y, Z] = volume.dims;
  const n = corners.length / 3;
  const per = size * size * size;
  const channels = coords ? 4 : 1;
  const half = Math.floor(size / 2);
  // A 1-voxel axis has no spread: its one position is the middle, 0.
  const scale = (i: number, dim: number) => (dim > 1 ? (2 * i) / (dim - 1) - 1 : 0);
  const inputs = new Float32Array(n * channels * per);
  const labels = new Int32Array(n);
  const centres = new Int32Array(n * 3);
  for (let p = 0; p < n; p++) {
    const [x, y, z] = [corners[3 * p], corners[3 * p + 1], corners[3 * p + 2]];
    const base = p * channels * per;
    for (let k = 0; k < size; k++) {
      for (let j = 0; j < size; j++) {
        const from = x + X * (y + j + Y * (z + k));
        const row = base + size * (j + size * k);
        inputs.set(norm.subarray(from, from + size), row);
        if (!coords) continue;
        for (let i = 0; i < size; i++) inputs[row + per + i] = scale(x + i, X);
        inputs.fill(scale(y + j, Y), row + 2 * per, row + 2 * per + size);
        inputs.fill(scale(z + k, Z), row + 3 * per, row + 3 * per + size);
      }
    }
    centres.set([x + half, y + half, z + half], 3 * p);
    labels[p] = volume.lobeOfRegion[volume.atlas[x + half + X * (y + half + Y * (z + half))]];
  }
  return { inputs, shape: [n, channels, size, size, size], labels, classes: volume.lobes, centres };
}
