import { DataError } from './errors.js';
import { DEFAULT_MAX_BYTES, maybeGunzip } from './gzip.js';

export type IdxData = Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;

/** A decoded IDX file: row-major data of the given shape. */
export interface Idx {
  shape: number[];
  data: IdxData;
}

/** IDX element types by the third magic byte (LeCun's MNIST page); all multi-byte values are big-endian. */
const TYPES: Record<number, { label: string; bytes: number; make: (n: number) => IdxData; read: (v: DataView, b: number) => number }> = {
  0x08: { label: 'uint8', bytes: 1, make: (n) => new Uint8Array(n), read: (v, b) => v.getUint8(b) },
  0x09: { label: 'int8', bytes: 1, make: (n) => new Int8Array(n), read: (v, b) => v.getInt8(b) },
  0x0b: { label: 'int16', bytes: 2, make: (n) => new Int16Array(n), read: (v, b) => v.getInt16(b) },
  0x0c: { label: 'int32', bytes: 4, make: (n) => new Int32Array(n), read: (v, b) => v.getInt32(b) },
  0x0d: { label: 'float32', bytes: 4, make: (n) => new Float32Array(n), read: (v, b) => v.getFloat32(b) },
  0x0e: { label: 'float64', bytes: 8, make: (n) => new Float64Array(n), read: (v, b) => v.getFloat64(b) },
};

/**
 * Decodes an IDX file, gzipped or plain (told apart by the gzip magic). The header is
 * 00 00 TYPE NDIMS, then NDIMS big-endian uint32 sizes; the data must fill the rest exactly.
 */
export function readIdx(bytes: Uint8Array, name = 'idx', maxBytes = DEFAULT_MAX_BYTES): Idx {
  const raw = maybeGunzip(bytes, name, maxBytes);
  if (raw.length < 4) throw new DataError(name, `${raw.length} bytes is shorter than the 4-byte IDX magic`);
  if (raw[0] !== 0 || raw[1] !== 0) {
    throw new DataError(name, `bad IDX magic ${hex(raw, 4)} (expected 00 00 TYPE NDIMS)`);
  }
  const type = TYPES[raw[2]];
  if (!type) throw new DataError(name, `unknown IDX element type 0x${raw[2].toString(16).padStart(2, '0')}`);
  const ndims = raw[3];
  if (ndims === 0) throw new DataError(name, 'IDX header declares 0 dimensions');
  const dataAt = 4 + 4 * ndims;
  if (raw.length < dataAt) {
    throw new DataError(name, `truncated IDX header (needs ${dataAt} bytes for ${ndims} dimensions, ${raw.length} present)`);
  }
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const shape: number[] = [];
  let count = 1;
  for (let d = 0; d < ndims; d++) {
    shape.push(view.getUint32(4 + 4 * d));
    count *= shape[d];
  }
  // Compared before allocating: a header may declare any size, the bytes present are the truth.
  const needed = count * type.bytes;
  const present = raw.length - dataAt;
  if (needed !== present) {
    const what = needed > present ? 'truncated IDX data' : 'IDX data has trailing bytes';
    throw new DataError(name, `${what} (shape [${shape.join(', ')}] of ${type.label} needs ${needed} bytes, ${present} present)`);
  }
  const data = type.make(count);
  if (type.bytes === 1) {
    // Single bytes have no endianness: copy them as stored, the typed array gives their sign.
    new Uint8Array(data.buffer).set(raw.subarray(dataAt));
  } else {
    for (let i = 0, b = dataAt; i < count; i++, b += type.bytes) data[i] = type.read(view, b);
  }
  return { shape, data };
}

function hex(b: Uint8Array, n: number): string {
  return Array.from(b.subarray(0, n), (x) => x.toString(16).padStart(2, '0')).join(' ');
}
