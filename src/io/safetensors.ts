/**
 * safetensors, the tensor file of PyTorch, JAX and the Hugging Face tools:
 *   8 bytes     N, the header length (unsigned 64-bit little-endian)
 *   N bytes     UTF-8 JSON: {"__metadata__": {string: string}, NAME: {dtype, shape, data_offsets: [begin, end]}}
 *   the rest    the tensors' bytes, row-major little-endian, at [begin, end) from the start of this part
 * Reading checks everything a damaged or hostile file could get wrong (header length bounded by the
 * file and by MAX_HEADER_BYTES, offsets inside the data, the tensors tiling it with no overlap and no
 * gap, every byte count equal to its shape times its dtype's width, no key twice, finite values)
 * and names the file and tensor.
 * Reads F64, F32, F16, BF16 (widened to float32), I64 and I32 (as float64, exact up to 2^53);
 * writes F64, F32 and I64 (for integer buffers such as batch norm's num_batches_tracked).
 */
import { badValue, copyBytes, FormatError } from './errors.js';
import { parseJson } from './json.js';

/** The reference implementation's bound: larger headers are refused before they are parsed. */
export const MAX_HEADER_BYTES = 100_000_000;

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32';
const WIDTH: Record<SafetensorsDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4 };

export interface SafetensorsTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array | Float64Array;
}

export interface Safetensors {
  tensors: Record<string, SafetensorsTensor>;
  metadata: Record<string, string>;
}

/** A tensor to write: its values are stored as `dtype` (F64, F32 or I64). */
export interface TensorToWrite {
  dtype: 'F64' | 'F32' | 'I64';
  shape: readonly number[];
  data: ArrayLike<number>;
}

export function encodeSafetensors(tensors: Record<string, TensorToWrite>, metadata: Record<string, string> = {}): Uint8Array {
  // Null-prototype: a tensor named `__proto__` (decodeSafetensors reads one) must become a key, not the header's prototype.
  const header: Record<string, unknown> = Object.create(null);
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  const parts: Uint8Array[] = [];
  let at = 0;
  for (const [name, t] of Object.entries(tensors)) {
    if (name === '__metadata__') throw new FormatError('safetensors', "a tensor cannot be named '__metadata__': the format keeps the metadata under that key");
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== n) throw new FormatError('safetensors', `tensor '${name}' of shape [${t.shape.join(', ')}] has ${t.data.length} values, needs ${n}`);
    const bytes = encodeValues(name, t);
    header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [at, at + bytes.length] };
    parts.push(bytes);
    at += bytes.length;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data starts 8-byte aligned, as the reference writer does.
  json += ' '.repeat((8 - ((Buffer.byteLength(json) + 8) % 8)) % 8);
  const head = Buffer.from(json, 'utf8');
  const out = new Uint8Array(8 + head.length + at);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let p = 8 + head.length;
  for (const part of parts) {
    out.set(part, p);
    p += part.length;
  }
  return out;
}

function encodeValues(name: string, t: TensorToWrite): Uint8Array {
  if (t.dtype === 'F64') return new Uint8Array(Float64Array.from(t.data).buffer);
  if (t.dtype === 'F32') return new Uint8Array(Float32Array.from(t.data).buffer);
  const ints = new BigInt64Array(t.data.length);
  for (let i = 0; i < t.data.length; i++) {
    if (!Number.isSafeInteger(t.data[i])) throw new FormatError('safetensors', `tensor '${name}' is I64 but holds ${t.data[i]} at element ${i}`);
    ints[i] = BigInt(t.data[i]);
  }
  return new Uint8Array(ints.buffer);
}

/** Parses and validates safetensors bytes; `source` names them in errors. */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors'): Safetensors {
  const fail = (problem: string) => new FormatError(source, problem);
  if (bytes.length < 8) throw fail(`${bytes.length} bytes: too short for a safetensors file (an 8-byte header length comes first)`);
  const n = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) throw fail(`header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`);
  if (Number(n) > bytes.length - 8) throw fail(`header length ${n} runs past the end of the ${bytes.length}-byte file (truncated?)`);
  const dataStart = 8 + Number(n);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, dataStart));
  } catch (e) {
    throw fail(`header is not UTF-8 (${(e as Error).message})`);
  }
  if (!text.startsWith('{')) throw fail('header is not a JSON object (it does not start with {)');
  // Entries are {dtype, shape: [...], data_offsets: [...]}: three levels, one spare.
  const header = parseJson(text, 4, (p) => fail(`header: ${p}`)) as Record<string, unknown>;
  const metadata = readMetadata(header.__metadata__, fail);
  const dataLength = bytes.length - dataStart;
  const entries = Object.entries(header)
    .filter(([k]) => k !== '__metadata__')
    .map(([name, v]) => ({ name, ...readEntry(name, v, dataLength, fail) }));
  // The tensors must tile the data part exactly: sorted by offset, each begins where the last ended.
  const sorted = [...entries].sort((a, b) => a.begin - b.begin || a.end - b.end);
  let end = 0;
  for (const e of sorted) {
    if (e.begin < end) throw fail(`tensor '${e.name}' at bytes [${e.begin}, ${e.end}) overlaps the tensor before it (which ends at ${end})`);
    if (e.begin > end) throw fail(`bytes [${end}, ${e.begin}) before tensor '${e.name}' belong to no tensor`);
    end = e.end;
  }
  if (end !== dataLength) throw fail(`the tensors cover ${end} data bytes but the file holds ${dataLength} (truncated or padded?)`);
  // Names come from the file: a null-prototype record keeps '__proto__' an ordinary name.
  const tensors: Record<string, SafetensorsTensor> = Object.create(null);
  for (const e of entries) {
    const data = decodeValues(e.dtype, copyBytes(bytes, dataStart + e.begin, dataStart + e.end));
    const bad = badValue(data, e.dtype === 'I64');
    if (bad) throw fail(`tensor '${e.name}' of shape [${e.shape.join(', ')}] holds ${bad}`);
    tensors[e.name] = { dtype: e.dtype, shape: e.shape, data };
  }
  return { tensors, metadata };
}

function readMetadata(v: unknown, fail: (p: string) => Error): Record<string, string> {
  if (v === undefined) return Object.create(null);
  if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.values(v).every((s) => typeof s === 'string')) {
    throw fail('__metadata__ should map strings to strings');
  }
  return Object.assign(Object.create(null), v) as Record<string, string>;
}

function readEntry(name: string, v: unknown, dataLength: number, fail: (p: string) => Error) {
  const e = v as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
  if (!e || typeof e !== 'object') throw fail(`tensor '${name}' should be {dtype, shape, data_offsets}`);
  if (typeof e.dtype !== 'string' || !Object.prototype.hasOwnProperty.call(WIDTH, e.dtype)) {
    throw fail(`tensor '${name}' has dtype ${JSON.stringify(e.dtype)}; ndcnn reads ${Object.keys(WIDTH).join(', ')}`);
  }
  const dtype = e.dtype as SafetensorsDtype;
  const shape = e.shape;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) throw fail(`tensor '${name}' has shape ${JSON.stringify(shape)}, not non-negative integers`);
  const off = e.data_offsets;
  if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw fail(`tensor '${name}' has data_offsets ${JSON.stringify(off)}, not two non-negative integers`);
  }
  const [begin, end] = off as number[];
  if (begin > end || end > dataLength) throw fail(`tensor '${name}' has data_offsets [${begin}, ${end}) outside the ${dataLength} data bytes (truncated file?)`);
  // Compare in floating point before multiplying out: a huge shape must not overflow into a match.
  const count = shape.reduce((a: number, b: number) => a * b, 1);
  if (count * WIDTH[dtype] !== end - begin) {
    throw fail(`tensor '${name}': shape [${shape.join(', ')}] of ${dtype} needs ${count * WIDTH[dtype]} bytes, data_offsets give ${end - begin}`);
  }
  return { dtype, shape: shape as number[], begin, end };
}

/** Little-endian bytes (a fresh, aligned copy) as float32/float64 values. */
function decodeValues(dtype: SafetensorsDtype, b: Uint8Array): Float32Array | Float64Array {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  switch (dtype) {
    case 'F64':
      return new Float64Array(b.buffer, b.byteOffset, b.byteLength / 8);
    case 'F32':
      return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
    case 'F16':
      return Float32Array.from({ length: b.length / 2 }, (_, i) => halfToFloat(view.getUint16(2 * i, true)));
    case 'BF16': {
      // bfloat16 is the top half of a float32.
      const bits = new Uint32Array(b.length / 2);
      for (let i = 0; i < bits.length; i++) bits[i] = view.getUint16(2 * i, true) << 16;
      return new Float32Array(bits.buffer);
    }
    case 'I64':
      return Float64Array.from({ length: b.length / 8 }, (_, i) => Number(view.getBigInt64(8 * i, true)));
    case 'I32':
      return Float64Array.from({ length: b.length / 4 }, (_, i) => view.getInt32(4 * i, true));
  }
}

/** IEEE 754 half → number: sign, 5-bit exponent (bias 15), 10-bit fraction; subnormals and inf/NaN. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}
