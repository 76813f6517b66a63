/**
 * NumPy's .npy (one array) and .npz (a zip of .npy files, as np.savez writes and np.load reads).
 * .npy: the magic "\x93NUMPY", a version, the header length, then a Python-literal header
 *   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces to a multiple
 *   of 64 bytes and ended by '\n', then the raw row-major data.
 * Writes little-endian float32/float64/int64 (version 1.0); reads those and int32, versions 1–3.
 * .npz archives are written by fflate and read by zip.ts.
 */
import { zipSync } from 'fflate';
import { badValue, copyBytes, FormatError } from './errors.js';
import { extractMember, zipMembers } from './zip.js';

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

/** NumPy's own bound (format.py's max_header_size): larger headers are refused before they are parsed. */
export const MAX_NPY_HEADER = 10_000;
const KEYS = ['descr', 'fortran_order', 'shape'];

/**
 * Parses .npy bytes; `source` names them in errors. With `own`, `bytes` is a buffer of its own
 * that the result may view instead of copying (an .npz member just inflated).
 */
export function decodeNpy(bytes: Uint8Array, source = 'npy', own = false): NpyArray {
  const fail = (problem: string) => new FormatError(source, problem);
  if (bytes.length < 10 || MAGIC.some((m, i) => bytes[i] !== m)) throw fail('not a .npy file (no \\x93NUMPY magic)');
  const [major, minor] = [bytes[6], bytes[7]];
  if (major < 1 || major > 3 || minor !== 0) throw fail(`.npy format version ${major}.${minor}; there are versions 1.0, 2.0 and 3.0`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lenBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lenBytes) throw fail('truncated .npy header');
  const hlen = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  if (hlen > MAX_NPY_HEADER) throw fail(`header of ${hlen} bytes is longer than NumPy's ${MAX_NPY_HEADER}-byte limit`);
  const start = 8 + lenBytes + hlen;
  if (start > bytes.length) throw fail(`header of ${hlen} bytes runs past the end of the ${bytes.length}-byte file`);
  let text: string;
  try {
    text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1', { fatal: true }).decode(bytes.subarray(8 + lenBytes, start));
  } catch {
    throw fail('header is not UTF-8 (format 3.0 headers are)');
  }
  const { descr, fortran, shape } = readHeader(text, major < 3, fail);
  if (fortran) throw fail('fortran_order arrays are not read; save np.ascontiguousarray(a)');
  const need = shape.reduce((x, y) => x * y, 1) * WIDTH[descr];
  if (bytes.length - start !== need) throw fail(`shape (${shape.join(', ')}) of ${descr} needs ${need} data bytes, the file holds ${bytes.length - start}`);
  // NumPy aligns the data to 64 bytes (16 in old files): a view is aligned then, else copy.
  const at = bytes.byteOffset + start;
  const raw = own && at % 8 === 0 ? bytes.buffer : copyBytes(bytes, start).buffer;
  const offset = raw === bytes.buffer ? at : 0;
  const n = need / WIDTH[descr];
  const data =
    descr === '<f8' ? new Float64Array(raw, offset, n)
    : descr === '<f4' ? new Float32Array(raw, offset, n)
    : descr === '<i4' ? Float64Array.from(new Int32Array(raw, offset, n))
    : Float64Array.from(new BigInt64Array(raw, offset, n), Number);
  const bad = badValue(data, descr === '<i8');
  if (bad) throw fail(`holds ${bad}`);
  return { descr, shape, data };
}

type Literal = string | boolean | number | number[];

/**
 * The header as the Python literal it is, {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), },
 * read by a small strict parser: single- or double-quoted strings without escapes, True/False,
 * decimal integers and tuples of them (with Python 2's 'L' suffix in versions 1 and 2, as NumPy allows).
 * Anything else is refused where it stands, and so are what NumPy refuses (a key missing or extra,
 * a shape of 4e0) and what readers disagree on: a repeated key, which NumPy resolves to the last.
 */
function readHeader(text: string, python2Longs: boolean, fail: (p: string) => FormatError): { descr: NpyDescr; fortran: boolean; shape: number[] } {
  let i = 0;
  const where = () => `at character ${i} of header ${JSON.stringify(text.trim().slice(0, 120))}`;
  const refuse = (p: string) => fail(`${p} ${where()}`);
  const space = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const expect = (c: string) => {
    space();
    if (text[i] !== c) throw refuse(`expected '${c}'`);
    i++;
  };
  const string = (): string => {
    const q = text[i];
    const end = text.indexOf(q, i + 1);
    const body = end < 0 ? '' : text.slice(i + 1, end);
    if (end < 0 || body.includes('\\') || body.includes('\n')) throw refuse('unterminated string, or one with escapes (not read)');
    i = end + 1;
    return body;
  };
  const integer = (): number => {
    const re = /-?\d+/y;
    re.lastIndex = i;
    const m = re.exec(text);
    if (!m || /^-?0\d/.test(m[0])) throw refuse('expected a decimal integer');
    i += m[0].length;
    if (python2Longs && (text[i] === 'L' || text[i] === 'l')) i++;
    if (/[\w.]/.test(text[i] ?? '')) throw refuse(`the number ${m[0]}${text[i]}… is not a plain integer (NumPy refuses a shape of floats too)`);
    return Number(m[0]);
  };
  const value = (): Literal => {
    space();
    const c = text[i];
    if (c === "'" || c === '"') return string();
    if (text.startsWith('True', i) || text.startsWith('False', i)) {
      const t = text.startsWith('True', i);
      i += t ? 4 : 5;
      return t;
    }
    if (c === '[') throw refuse('a list (the descr of a structured dtype) is not read');
    if (/[-\d]/.test(c ?? '')) return integer();
    if (c !== '(') throw refuse('expected a string, True, False or a tuple');
    i++;
    const items: number[] = [];
    for (;;) {
      space();
      if (text[i] === ')') break;
      items.push(integer());
      space();
      if (text[i] === ',') i++;
      else if (text[i] !== ')') throw refuse("expected ',' or ')' in the tuple");
      else if (items.length === 1) throw refuse('(n) is n in Python, not a tuple: a 1-D shape is (n,)');
    }
    i++;
    return items;
  };
  const d = new Map<string, Literal>();
  expect('{');
  for (;;) {
    space();
    if (text[i] === '}') break;
    if (text[i] !== "'" && text[i] !== '"') throw refuse('expected a quoted key');
    const key = string();
    if (d.has(key)) throw refuse(`key '${key}' appears twice (NumPy would read the last, other readers the first)`);
    expect(':');
    d.set(key, value());
    space();
    if (text[i] === ',') i++;
    else if (text[i] !== '}') throw refuse("expected ',' or '}'");
  }
  i++;
  space();
  if (i < text.length) throw refuse('unexpected text after the dictionary');
  const extra = [...d.keys()].filter((k) => !KEYS.includes(k));
  const missing = KEYS.filter((k) => !d.has(k));
  if (extra.length || missing.length) {
    throw fail(`header keys should be exactly ${KEYS.join(', ')} (as NumPy requires): ${[...missing.map((k) => `'${k}' missing`), ...extra.map((k) => `'${k}' extra`)].join(', ')}`);
  }
  const descr = d.get('descr')!;
  if (typeof descr !== 'string') throw fail(`descr ${JSON.stringify(descr)} is not a dtype string`);
  if (!Object.prototype.hasOwnProperty.call(WIDTH, descr)) throw fail(`dtype '${descr}'; ndcnn reads ${Object.keys(WIDTH).join(', ')} (little-endian)`);
  const fortran = d.get('fortran_order');
  if (typeof fortran !== 'boolean') throw fail(`fortran_order should be True or False, got ${JSON.stringify(fortran)}`);
  const shape = d.get('shape');
  if (!Array.isArray(shape)) throw fail(`shape should be a tuple of integers, got ${JSON.stringify(shape)}`);
  if (!shape.every((n) => Number.isSafeInteger(n) && n >= 0)) throw fail(`shape (${shape.join(', ')}) is not non-negative integers below 2^53`);
  return { descr: descr as NpyDescr, fortran, shape };
}

/** A .npz of the arrays by name (np.load(f)[name]); stored uncompressed unless `compress` (np.savez_compressed). */
export function encodeNpz(arrays: Record<string, ArrayToWrite>, compress = false): Uint8Array {
  const files: Record<string, Uint8Array> = {};
  for (const [name, a] of Object.entries(arrays)) files[`${name}.npy`] = encodeNpy(a);
  // A fixed timestamp (the zip epoch) keeps the archive a function of its contents alone.
  return zipSync(files, { level: compress ? 6 : 0, mtime: new Date(1980, 0, 1) });
}

/**
 * The arrays of a .npz by name (a null-prototype record: names come from the file). `maxBytes`
 * bounds the members' total unpacked size as the zip directory declares it (default 2 GiB),
 * checked before anything is unpacked; each member is inflated into a buffer of its declared
 * size that its array then views, so memory peaks at about the arrays themselves.
 */
export function decodeNpz(bytes: Uint8Array, source = 'npz', maxBytes = 2 ** 31): Record<string, NpyArray> {
  const fail = (problem: string) => new FormatError(source, problem);
  const members = zipMembers(bytes, fail);
  const total = members.reduce((n, m) => n + m.size, 0);
  if (total > maxBytes) throw fail(`members unpack to ${total} bytes, more than the ${maxBytes}-byte limit`);
  const out: Record<string, NpyArray> = Object.create(null);
  for (const m of members) {
    if (!m.name.endsWith('.npy')) throw fail(`member '${m.name}' is not a .npy file`);
    const name = m.name.slice(0, -4);
    if (name in out) throw fail(`two members are named '${m.name}' (NumPy lists both and reads the last)`);
    out[name] = decodeNpy(extractMember(bytes, m, fail), `${source}:${m.name}`, true);
  }
  return out;
}
