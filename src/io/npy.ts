/**
 * NumPy's .npy (one array) and .npz (a zip of .npy files, as np.savez writes and np.load reads).
 * .npy: the magic "\x93NUMPY", a version, the header length, then a Python-literal header
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces to a multiple
 *   of 64 bytes and ended by '\n', then the raw row-major data.
 * Writes little-endian float32/float64/int64 (version 1.0); reads those and int32, versions 1–3.
 * The zip container is fflate's.
 */
import { unzipSync, zipSync } from 'fflate';
import { copyBytes, FormatError } from './errors.js';

export type NpyDescr = '<f4' | '<f8' | '<i8' | '<i4';
const WIDTH: Record<NpyDescr, number> = { '<f4': 4, '<f8': 8, '<i8': 8, '<i4': 4 };
const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];

export interface NpyArray {
  descr: NpyDescr;
  shape: number[];
  data: Float32Array | Float64Array;
}

/** What to write: values stored as `descr` (default '<f8' for a Float64Array, '<f4' otherwise). */
export interface ArrayToWrite {
  shape: readonly number[];
  data: ArrayLike<number>;
  descr?: '<f4' | '<f8' | '<i8';
}

export function encodeNpy(a: ArrayToWrite): Uint8Array {
  const descr = a.descr ?? (a.data instanceof Float64Array ? '<f8' : '<f4');
  const n = a.shape.reduce((x, y) => x * y, 1);
  if (a.data.length !== n) throw new FormatError('npy', `shape [${a.shape.join(', ')}] needs ${n} values, ${a.data.length} given`);
  const shape = a.shape.length === 1 ? `(${a.shape[0]},)` : `(${a.shape.join(', ')})`;
  let header = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shape}, }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const body =
    descr === '<f8' ? new Uint8Array(Float64Array.from(a.data).buffer)
    : descr === '<f4' ? new Uint8Array(Float32Array.from(a.data).buffer)
    : new Uint8Array(BigInt64Array.from(Array.from(a.data, (v) => BigInt(v))).buffer);
  const out = new Uint8Array(10 + header.length + body.length);
  out.set(MAGIC);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, header.length, true);
  out.set(Buffer.from(header, 'latin1'), 10);
  out.set(body, 10 + header.length);
  return out;
}

export function decodeNpy(bytes: Uint8Array, source = 'npy'): NpyArray {
  const fail = (problem: string) => new FormatError(source, problem);
  if (bytes.length < 10 || MAGIC.some((m, i) => bytes[i] !== m)) throw fail('not a .npy file (no \\x93NUMPY magic)');
  const major = bytes[6];
  if (major < 1 || major > 3) throw fail(`.npy format version ${major}.${bytes[7]}; ndcnn reads 1.0 to 3.0`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenBytes) throw fail('truncated .npy header');
  const hlen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const start = 8 + lenBytes + hlen;
  if (start > bytes.length) throw fail(`header of ${hlen} bytes runs past the end of the ${bytes.length}-byte file`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(8 + lenBytes, start));
  const descr = /'descr':\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) throw fail(`unreadable .npy header ${JSON.stringify(header.trim())}`);
  if (!Object.prototype.hasOwnProperty.call(WIDTH, descr)) throw fail(`dtype '${descr}'; ndcnn reads ${Object.keys(WIDTH).join(', ')} (little-endian)`);
  if (fortran === 'True') throw fail('fortran_order arrays are not read; save np.ascontiguousarray(a)');
  const parts = shapeText.split(',').map((s) => s.trim()).filter((s) => s !== '');
  const shape = parts.map(Number);
  if (!shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw fail(`shape (${shapeText}) is not non-negative integers`);
  const d = descr as NpyDescr;
  const need = shape.reduce((x, y) => x * y, 1) * WIDTH[d];
  if (bytes.length - start !== need) throw fail(`shape (${shape.join(', ')}) of ${d} needs ${need} data bytes, the file holds ${bytes.length - start}`);
  const raw = copyBytes(bytes, start);
  const data =
    d === '<f8' ? new Float64Array(raw.buffer)
    : d === '<f4' ? new Float32Array(raw.buffer)
    : d === '<i4' ? Float64Array.from(new Int32Array(raw.buffer))
    : Float64Array.from(new BigInt64Array(raw.buffer), Number);
  return { descr: d, shape, data };
}

/** A .npz of the arrays by name (np.load(f)[name]); stored uncompressed unless `compress` (np.savez_compressed). */
export function encodeNpz(arrays: Record<string, ArrayToWrite>, compress = false): Uint8Array {
  const files: Record<string, Uint8Array> = {};
  for (const [name, a] of Object.entries(arrays)) files[`${name}.npy`] = encodeNpy(a);
  // A fixed timestamp (the zip epoch) keeps the archive a function of its contents alone.
  return zipSync(files, { level: compress ? 6 : 0, mtime: new Date(1980, 0, 1) });
}

/**
 * The arrays of a .npz by name. `maxBytes` bounds the members' total unpacked size as their zip
 * headers declare it (default 2 GiB), so a small hostile archive cannot claim unbounded memory.
 */
export function decodeNpz(bytes: Uint8Array, source = 'npz', maxBytes = 2 ** 31): Record<string, NpyArray> {
  let files: Record<string, Uint8Array>;
  let total = 0;
  try {
    files = unzipSync(bytes, { filter: (f) => (total += f.originalSize) <= maxBytes });
  } catch (e) {
    throw new FormatError(source, `not a readable zip archive (${(e as Error).message})`);
  }
  if (total > maxBytes) throw new FormatError(source, `members unpack to ${total} bytes, more than the ${maxBytes}-byte limit`);
  const out: Record<string, NpyArray> = {};
  for (const [file, content] of Object.entries(files)) {
    if (!file.endsWith('.npy')) throw new FormatError(source, `member '${file}' is not a .npy file`);
    out[file.slice(0, -4)] = decodeNpy(content, `${source}:${file}`);
  }
  return out;
}
