import { DataError } from './errors.js';
import { DEFAULT_MAX_BYTES, maybeGunzip } from './gzip.js';

/** A decoded NIfTI-1 volume. */
export interface Nifti {
  dims: [number, number, number];
  /** Voxel size along each axis (mm for the MRI set), from pixdim[1..3]. */
  pixdim: [number, number, number];
  /** Voxel values after scl_slope/scl_inter, x fastest (index x + X·(y + Y·z)), as stored. */
  data: Float32Array;
}

/** NIfTI-1 header layout (nifti1.h): byte offsets of the fields we read. */
const HEADER_BYTES = 348;
const OFF = { dim: 40, datatype: 70, bitpix: 72, pixdim: 76, voxOffset: 108, sclSlope: 112, sclInter: 116, magic: 344 };

/** Supported datatype codes (nifti1.h DT_*) and how to read one voxel. */
const DATATYPES: Record<number, { label: string; bits: number; read: (v: DataView, b: number, le: boolean) => number }> = {
  2: { label: 'uint8', bits: 8, read: (v, b) => v.getUint8(b) },
  4: { label: 'int16', bits: 16, read: (v, b, le) => v.getInt16(b, le) },
  8: { label: 'int32', bits: 32, read: (v, b, le) => v.getInt32(b, le) },
  16: { label: 'float32', bits: 32, read: (v, b, le) => v.getFloat32(b, le) },
  64: { label: 'float64', bits: 64, read: (v, b, le) => v.getFloat64(b, le) },
};

/**
 * Decodes a single-file NIfTI-1 volume (.nii, or .nii.gz told apart by the gzip magic): 3-D, or
 * 4-D and higher with one volume; either byte order (told apart by sizeof_hdr, which reads 348
 * only in the file's own order). Every declared size is checked against the bytes present.
 */
export function readNifti(bytes: Uint8Array, name = 'nifti', maxBytes = DEFAULT_MAX_BYTES): Nifti {
  const raw = maybeGunzip(bytes, name, maxBytes);
  if (raw.length < HEADER_BYTES) {
    throw new DataError(name, `${raw.length} bytes is shorter than the ${HEADER_BYTES}-byte NIfTI-1 header`);
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const le = view.getInt32(0, true) === HEADER_BYTES;
  if (!le && view.getInt32(0, false) !== HEADER_BYTES) {
    throw new DataError(name, `sizeof_hdr is ${view.getInt32(0, true)}, not ${HEADER_BYTES}: not a NIfTI-1 file`);
  }
  const magic = String.fromCharCode(...raw.subarray(OFF.magic, OFF.magic + 4));
  if (magic === 'ni1\0') throw new DataError(name, 'a two-file NIfTI (.hdr/.img) header; only single-file .nii is read');
  if (magic !== 'n+1\0') throw new DataError(name, `bad NIfTI-1 magic ${JSON.stringify(magic)} (expected "n+1")`);

  const i16 = (at: number) => view.getInt16(at, le);
  const f32 = (at: number) => view.getFloat32(at, le);
  const rank = i16(OFF.dim);
  if (rank < 3 || rank > 7) throw new DataError(name, `dim[0] = ${rank}: only 3-D volumes (or 4-D+ with one volume) are read`);
  const dim: number[] = [];
  for (let d = 1; d <= rank; d++) dim.push(i16(OFF.dim + 2 * d));
  if (dim.some((n) => n < 1)) throw new DataError(name, `non-positive size in dim [${dim.join(', ')}]`);
  if (dim.slice(3).some((n) => n !== 1)) {
    throw new DataError(name, `dim [${dim.join(', ')}] holds ${dim.slice(3).reduce((a, b) => a * b, 1)} volumes; only one is read`);
  }
  const dims: [number, number, number] = [dim[0], dim[1], dim[2]];

  const code = i16(OFF.datatype);
  const type = DATATYPES[code];
  if (!type) throw new DataError(name, `unsupported datatype ${code} (supported: uint8 2, int16 4, int32 8, float32 16, float64 64)`);
  const bitpix = i16(OFF.bitpix);
  if (bitpix !== type.bits) throw new DataError(name, `bitpix ${bitpix} does not match datatype ${type.label} (${type.bits} bits)`);

  const pixdim: [number, number, number] = [1, 2, 3].map((d) => Math.abs(f32(OFF.pixdim + 4 * d))) as [number, number, number];
  if (!pixdim.every((p) => Number.isFinite(p) && p > 0)) {
    throw new DataError(name, `voxel size pixdim[1..3] = [${pixdim.join(', ')}] is not positive and finite`);
  }
  const voxOffset = f32(OFF.voxOffset);
  if (!(Number.isInteger(voxOffset) && voxOffset >= HEADER_BYTES + 4)) {
    throw new DataError(name, `vox_offset ${voxOffset} is not an integer of at least ${HEADER_BYTES + 4}`);
  }
  const count = dims[0] * dims[1] * dims[2];
  const step = type.bits / 8;
  const needed = count * step;
  const present = raw.length - voxOffset;
  // Compared before allocating: the header may declare anything, the bytes present are the truth.
  if (needed > present) {
    throw new DataError(name, `truncated voxel data (${dims.join('x')} ${type.label} needs ${needed} bytes at offset ${voxOffset}, ${Math.max(present, 0)} present)`);
  }

  // Stored value v means slope·v + inter when scl_slope ≠ 0 (nifti1.h); slope 0 means "unscaled".
  let slope = f32(OFF.sclSlope);
  let inter = f32(OFF.sclInter);
  if (slope === 0) {
    slope = 1;
    inter = 0;
  } else if (!Number.isFinite(slope) || !Number.isFinite(inter)) {
    throw new DataError(name, `non-finite scaling scl_slope = ${slope}, scl_inter = ${inter}`);
  }
  const data = new Float32Array(count);
  const read = type.read;
  for (let i = 0, b = voxOffset; i < count; i++, b += step) {
    data[i] = slope * read(view, b, le) + inter;
    // NaN/Inf voxels (float data, or scaling past float32) would reach the network as NaN loss.
    if (!Number.isFinite(data[i])) {
      const [x, y, z] = [i % dims[0], Math.floor(i / dims[0]) % dims[1], Math.floor(i / (dims[0] * dims[1]))];
      throw new DataError(name, `voxel (${x}, ${y}, ${z}) is ${data[i]}; the volume must hold finite values`);
    }
  }
  return { dims, pixdim, data };
}
