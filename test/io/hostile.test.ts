/**
 * Hostile and malformed model files: every class of issue 22, each in several variants, refused
 * with an error that names the file and the problem; and the real readers' verdicts on the same
 * files (fixtures/make_hostile.py: NumPy 1.24's np.load, onnx 1.12's checker), so that ndcnn
 * refuses everything they refuse and reads what they read the same way, or refuses it for a
 * stated reason (the STRICTER tables).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import protobuf from 'protobufjs';
import { afterAll, describe, expect, it } from 'vitest';
import {
  decodeNpy, decodeNpz, decodeSafetensors, encodeNpz, encodeSafetensors, FormatError, loadNetwork, networkFromOnnx, networkToOnnx, networkToSafetensors,
  readSafetensors,
} from '../../src/io/index.js';
import { decodeModel, encodeModel } from '../../src/io/onnx/proto.js';
import { onnxSchema } from '../../src/io/onnx/schema.js';
import { batchNorm, conv, dense, flatten, type LayerSpec } from '../../src/layers/index.js';
import { Network } from '../../src/network/index.js';
import { cpuBackend } from '../../src/nd/backends/cpu/index.js';
import { Rng } from '../../src/nd/rng.js';
import { FIXTURES, fixtureNetwork } from './fixtures/ndcnn-files.js';
import { concat, npyHeader, zipArchive } from './zip-builder.js';

const HOSTILE = new URL('hostile/', FIXTURES).pathname;
interface NpyCase { name: string; bytes: string; numpy: { ok: boolean; dtype: string; shape: number[]; values: (number | string)[] } }
interface NpzCase { name: string; file: string; numpy: { ok: boolean; files: string[]; arrays: Record<string, { dtype: string; shape: number[]; values: number[] }> } }
interface OnnxCase { name: string; file: string; checker: string; initializers?: Record<string, number[]>; input?: number[]; output?: number[] }
const record = JSON.parse(readFileSync(join(HOSTILE, 'hostile.json'), 'utf8')) as { npy: NpyCase[]; npz: NpzCase[]; onnx_graphs: OnnxCase[] };
const tmp = mkdtempSync(join(tmpdir(), 'ndcnn-hostile-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const ROOT = new URL('../../', import.meta.url).pathname;

/** Expects `f` to throw a FormatError whose message is "SOURCE: ..." and matches `problem`. */
function refused(f: () => unknown, source: string, problem: RegExp): void {
  let error: unknown;
  try {
    f();
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(FormatError);
  expect((error as FormatError).source).toBe(source);
  expect((error as FormatError).problem).toMatch(problem);
}

/** JSON's stand-ins for the values it cannot hold (make_hostile.py's `values`). */
const number = (v: number | string) => (typeof v === 'number' ? v : v === 'nan' ? NaN : v === 'inf' ? Infinity : -Infinity);

/** A safetensors file from header text (any JSON, repeated keys included) and data bytes. */
function safetensors(header: string, data: ArrayBufferView = new Uint8Array(0)): Uint8Array {
  const h = Buffer.from(header);
  const out = new Uint8Array(8 + h.length + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 8 + h.length);
  return out;
}
const entry = (dtype: string, shape: number[], begin: number, end: number) => `{"dtype": "${dtype}", "shape": [${shape}], "data_offsets": [${begin}, ${end}]}`;

const SPECS: LayerSpec[] = [conv({ channels: 2, kernel: 3 }), batchNorm(), flatten(), dense({ units: 3 })];
const small = (dtype: 'float32' | 'float64' = 'float32') => new Network(cpuBackend(dtype), [1, 5, 5], SPECS, { seed: 2 });

/** A copy of `net`'s safetensors file with one tensor's value replaced (the file stays well formed). */
function withValue(net: Network, name: string, index: number, value: number, dtype: 'F32' | 'F64' = 'F32'): Uint8Array {
  const { tensors, metadata } = decodeSafetensors(networkToSafetensors(net));
  const out: Record<string, { dtype: 'F32' | 'F64' | 'I64'; shape: number[]; data: ArrayLike<number> }> = {};
  for (const [k, t] of Object.entries(tensors)) {
    const data = Float64Array.from(t.data);
    if (k === name) data[index] = value;
    // F64 holds counts too, so a fractional one can be written.
    out[k] = { dtype: t.dtype === 'I64' && dtype === 'F32' ? 'I64' : dtype, shape: t.shape, data };
  }
  return encodeSafetensors(out, metadata);
}

describe('non-finite values are refused, naming the file, the tensor and the element', () => {
  it.each([
    ['F32 +Inf', 'F32', new Float32Array([1, Infinity]), /x\.safetensors: tensor 'w' of shape \[2\] holds Infinity at element 1; ndcnn reads finite values only/],
    ['F32 -Inf', 'F32', new Float32Array([-Infinity, 0]), /tensor 'w' of shape \[2\] holds -Infinity at element 0/],
    ['F32 NaN', 'F32', new Float32Array([0, NaN]), /holds NaN at element 1/],
    ['F64 NaN', 'F64', new Float64Array([NaN, 2]), /holds NaN at element 0/],
    ['F16 +Inf (0x7c00)', 'F16', new Uint16Array([0x3c00, 0x7c00]), /holds Infinity at element 1/],
    ['F16 -Inf (0xfc00)', 'F16', new Uint16Array([0xfc00, 0]), /holds -Infinity at element 0/],
    ['F16 NaN (0x7e00)', 'F16', new Uint16Array([0, 0x7e00]), /holds NaN at element 1/],
    ['BF16 NaN (0x7fc0)', 'BF16', new Uint16Array([0x7fc0, 0]), /holds NaN at element 0/],
    ['BF16 -Inf (0xff80)', 'BF16', new Uint16Array([0, 0xff80]), /holds -Infinity at element 1/],
    ['I64 beyond 2^53', 'I64', new BigInt64Array([2n ** 60n + 1n, 0n]), /holds an integer beyond ±2\^53 \(about 1\.15e\+18\) at element 0, which float64 cannot hold exactly/],
  ] as const)('safetensors %s', (_, dtype, data, message) => {
    const bytes = safetensors(`{"w": ${entry(dtype, [2], 0, data.byteLength)}}`, data);
    expect(() => decodeSafetensors(bytes, 'x.safetensors')).toThrow(message);
  });

  it.each([
    ['an F64 1e39, Infinity in float32', 'float32', '0.weight', 4, 1e39, /n\.safetensors: loadStateDict: '0\.weight' holds 1e\+39 at element 4, which overflows float32 to Infinity/],
    ['an F64 -4e38', 'float32', '0.bias', 1, -4e38, /'0\.bias' holds -4e\+38 at element 1, which overflows float32 to -Infinity/],
    ['a negative running_var', 'float32', '1.running_var', 0, -0.25, /'1\.running_var' holds -0\.25 at element 0; a variance is never negative/],
    ['a fractional num_batches_tracked', 'float64', '1.num_batches_tracked', 0, 2.5, /'1\.num_batches_tracked' holds 2\.5 at element 0, not a count \(a non-negative integer\)/],
    ['a negative num_batches_tracked', 'float64', '1.num_batches_tracked', 0, -3, /holds -3 at element 0, not a count/],
  ] as const)('loadNetwork: %s', (_, dtype, name, index, value, message) => {
    const file = join(tmp, 'n.safetensors');
    writeFileSync(file, withValue(small(dtype), name, index, value, 'F64'));
    expect(() => loadNetwork(file)).toThrow(message);
  });

  it('1e39 fits a float64 network, so there it loads', () => {
    const net = loadNetwork(withValue(small('float64'), '0.weight', 4, 1e39, 'F64'));
    expect(net.params[4]).toBe(1e39);
  });

  describe('a JavaScript state dict', () => {
    const net = small();
    const dict = () => net.stateDict() as Record<string, { shape: number[]; data: unknown }>;
    it.each([
      ['Infinity', [Infinity, 0], /loadStateDict: '0\.bias' holds Infinity at element 0/],
      ['-Infinity', [0, -Infinity], /'0\.bias' holds -Infinity at element 1/],
      ['NaN', [NaN, 0], /'0\.bias' holds NaN at element 0/],
      ['1e39 (float32 network)', Float64Array.from([0, 1e39]), /'0\.bias' holds 1e\+39 at element 1, which overflows float32 to Infinity/],
      ['a string', 'ab', /loadStateDict: '0\.bias'\.data must be an array of numbers .*got string/],
      ['an array of objects', [{}, {}], /loadStateDict: '0\.bias'\.data\[0\] is Object, not a number/],
      ['an array holding a string', [1, '2'], /'0\.bias'\.data\[1\] is "2", not a number/],
      ['a BigInt64Array', new BigInt64Array(2), /'0\.bias'\.data must be an array of numbers .*got BigInt64Array\(2\)/],
      ['null', null, /'0\.bias'\.data must be an array of numbers .*got null/],
      ['an array-like object', { length: 2, 0: 1, 1: 'x' }, /'0\.bias'\.data\[1\] is "x", not a number/],
    ])('refuses data that is %s, and changes nothing', (_, data, message) => {
      const before = net.params.slice();
      expect(() => net.loadStateDict({ ...dict(), '0.bias': { shape: [2], data } } as never)).toThrow(message);
      expect(net.params).toEqual(before);
    });
    it('refuses a negative running variance and a fractional count, and changes no buffer', () => {
      const stats = net.namedBuffers().map((b) => b.data.slice());
      expect(() => net.loadStateDict({ ...dict(), '1.running_var': { shape: [2], data: [1, -1e-9] } } as never)).toThrow(/'1\.running_var' holds -1e-9 at element 1; a variance is never negative/);
      expect(() => net.loadStateDict({ ...dict(), '1.num_batches_tracked': { shape: [], data: [0.5] } } as never)).toThrow(/not a count/);
      expect(net.namedBuffers().map((b) => b.data)).toEqual(stats);
    });
    it('network state (checkpoints) is held to the same rules', () => {
      const s = net.state();
      expect(() => net.loadState({ ...s, buffers: { ...s.buffers, '1.running_var': [1, -2] } })).toThrow(/network state: buffer '1\.running_var' holds -2 at element 1; a variance is never negative/);
      expect(() => net.loadState({ ...s, buffers: { ...s.buffers, '1.running_mean': [1e39, 0] } })).toThrow(/holds 1e\+39 at element 0, which overflows float32/);
    });
  });
});

describe('names from a file that are Object.prototype names stay ordinary names', () => {
  const data = new Float32Array([1, 2]);
  it.each(['__proto__', 'constructor', 'toString', 'hasOwnProperty'])('a safetensors tensor named %s is read, and loadNetwork names it as unknown', (name) => {
    const t = decodeSafetensors(safetensors(`{"${name}": ${entry('F32', [2], 0, 8)}}`, data)).tensors;
    expect(Object.keys(t)).toEqual([name]);
    expect(Object.getPrototypeOf(t)).toBe(null);
    expect([...t[name].data]).toEqual([1, 2]);
    // Added to a real network's file, it is one tensor too many, named.
    expect(() => loadNetwork(networkFileWith(name))).toThrow(new RegExp(`safetensors bytes: loadStateDict: unknown tensor '${name}' \\(the network has 0\\.weight`));
  });
  it.each(['__proto__', 'constructor'])('encodeSafetensors writes a tensor named %s as a tensor, and it reads back', (name) => {
    const bytes = encodeSafetensors({ [name]: { dtype: 'F32', shape: [2], data }, w: { dtype: 'F32', shape: [1], data: [3] } }, { note: 'x' });
    const back = decodeSafetensors(bytes, 'x.safetensors');
    expect(Object.keys(back.tensors)).toEqual([name, 'w']);
    expect([...back.tensors[name].data, ...back.tensors.w.data]).toEqual([1, 2, 3]);
  });
  it('encodeSafetensors refuses a tensor named __metadata__', () => {
    expect(() => encodeSafetensors({ __metadata__: { dtype: 'F32', shape: [1], data: [1] } })).toThrow("safetensors: a tensor cannot be named '__metadata__': the format keeps the metadata under that key");
  });
  it('__metadata__ keys are kept as keys', () => {
    const { metadata } = decodeSafetensors(safetensors(`{"__metadata__": {"__proto__": "x", "constructor": "y"}}`));
    expect({ ...metadata }).toEqual(Object.fromEntries([['__proto__', 'x'], ['constructor', 'y']]));
  });
  it('npz members named __proto__, constructor, toString (np.savez wrote them; NumPy reads all three)', () => {
    const c = record.npz.find((x) => x.name === 'prototype names')!;
    expect(c.numpy.ok).toBe(true);
    const arrays = decodeNpz(readFileSync(join(HOSTILE, c.file)));
    expect(Object.keys(arrays)).toEqual(c.numpy.files);
    for (const k of c.numpy.files) expect([...arrays[k].data]).toEqual(c.numpy.arrays[k].values);
  });
  it('a state dict parsed from JSON with a "__proto__" key, or a layer spec with one, is refused by name', () => {
    const net = small();
    const dict = JSON.parse(`{"__proto__": {"shape": [1], "data": [0]}}`);
    expect(() => net.loadStateDict({ ...net.stateDict(), ...dict })).toThrow(/unknown tensor '__proto__'/);
    const arch = JSON.parse(networkToSafetensorsMeta());
    arch.layers[0] = JSON.parse(`{"kind": "flatten", "__proto__": {"kind": "conv"}}`);
    expect(() => loadNetwork(encodeSafetensors({}, { 'ndcnn.architecture': JSON.stringify(arch) }))).toThrow(/safetensors bytes: architecture: flatten#0: unknown option '__proto__' \(flatten takes no options\)/);
  });
});

/** A small network's safetensors file (written here as F64) with one more tensor, `extra`. */
function networkFileWith(extra: string): Uint8Array {
  const { tensors, metadata } = decodeSafetensors(networkToSafetensors(small()));
  const entries = [`"__metadata__": ${JSON.stringify(metadata)}`];
  const blobs: Uint8Array[] = [];
  let at = 0;
  const add = (name: string, shape: number[], data: Float64Array) => {
    entries.push(`"${name}": ${entry('F64', shape, at, at + data.byteLength)}`);
    blobs.push(new Uint8Array(data.buffer));
    at += data.byteLength;
  };
  for (const [name, t] of Object.entries(tensors)) add(name, t.shape, Float64Array.from(t.data));
  add(extra, [2], Float64Array.from([1, 2]));
  return safetensors(`{${entries.join(', ')}}`, concat(blobs));
}

function networkToSafetensorsMeta(): string {
  return decodeSafetensors(networkToSafetensors(small())).metadata['ndcnn.architecture'];
}

describe('repeated names and damaged members are refused', () => {
  const two = new Float32Array([1, 2, 3, 4]);
  it.each([
    ['a tensor named twice', `{"w": ${entry('F32', [2], 0, 8)}, "w": ${entry('F32', [2], 8, 16)}}`, /header: key "w" appears twice in one object \(again at character \d+\); JSON readers disagree on which one counts/],
    ['a tensor named twice, once escaped', `{"w": ${entry('F32', [2], 0, 8)}, "\\u0077": ${entry('F32', [2], 8, 16)}}`, /key "w" appears twice/],
    ['dtype given twice in one entry', `{"w": {"dtype": "F64", "dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}`, /key "dtype" appears twice/],
    ['a metadata key twice', `{"__metadata__": {"a": "1", "a": "2"}, "w": ${entry('F32', [4], 0, 16)}}`, /key "a" appears twice/],
    ['__metadata__ twice', `{"__metadata__": {}, "w": ${entry('F32', [4], 0, 16)}, "__metadata__": {}}`, /key "__metadata__" appears twice/],
  ])('safetensors: %s', (_, header, message) => {
    expect(() => decodeSafetensors(safetensors(header, two), 'x.safetensors')).toThrow(message);
  });
  it('equal keys in different objects are fine', () => {
    const t = decodeSafetensors(safetensors(`{"__metadata__": {"dtype": "x"}, "dtype": ${entry('F32', [4], 0, 16)}}`, two)).tensors;
    expect([...t.dtype.data]).toEqual([1, 2, 3, 4]);
  });
  it('an architecture with a repeated key', () => {
    const arch = networkToSafetensorsMeta().replace('"kind":"conv"', '"kind":"conv","kind":"dense"');
    expect(() => loadNetwork(encodeSafetensors({}, { 'ndcnn.architecture': arch }))).toThrow(/safetensors bytes: 'ndcnn\.architecture': key "kind" appears twice/);
  });

  const member = (name: string, values: number[], method = 0) => ({ name, method, data: Buffer.concat([npyHeader('<f8', [values.length]), Buffer.from(Float64Array.from(values).buffer)]) });
  it.each([
    ['two members of one name', [member('a.npy', [1]), member('a.npy', [2])], /x\.npz: two members are named 'a\.npy' \(NumPy lists both and reads the last\)/],
    ['two of one name among others, deflated', [member('a.npy', [1], 8), member('b.npy', [2], 8), member('b.npy', [3], 8)], /two members are named 'b\.npy'/],
    ['a stored member with a wrong CRC-32', [{ ...member('a.npy', [1, 2]), crc: 0x12345678 }], /x\.npz: member 'a\.npy' fails its CRC-32 check \(stored 0x12345678, computed 0x[0-9a-f]{8}\): the archive is damaged/],
    ['a deflated member with a wrong CRC-32', [member('a.npy', [1]), { ...member('b.npy', [5, 6], 8), crc: 0 }], /member 'b\.npy' fails its CRC-32 check \(stored 0x00000000/],
    ['a member that is not .npy', [member('a.npy', [1]), { name: 'readme.txt', data: Buffer.from('hi') }], /member 'readme\.txt' is not a \.npy file/],
  ])('npz: %s', (_, members, message) => {
    expect(() => decodeNpz(zipArchive(members), 'x.npz')).toThrow(message);
  });
});

describe('.npy headers are the Python literal NumPy reads (fixtures/make_hostile.py: np.load on each)', () => {
  // NumPy reads these; ndcnn refuses them, and says why.
  const STRICTER: Record<string, RegExp> = {
    'repeated descr': /key 'descr' appears twice \(NumPy would read the last, other readers the first\) at character 24/,
    'repeated shape': /key 'shape' appears twice/,
    'shape hex': /the number 0x… is not a plain integer/,
    'descr float32': /dtype 'float32'; ndcnn reads <f4, <f8, <i8, <i4 \(little-endian\)/,
    'descr big-endian': /dtype '>f4'; ndcnn reads/,
    'descr escaped': /unterminated string, or one with escapes \(not read\)/,
    comment: /unexpected text after the dictionary at character 58/,
    'data one byte long': /shape \(4\) of <f4 needs 16 data bytes, the file holds 17/,
    'nan value': /holds NaN at element 1; ndcnn reads finite values only/,
    'inf value': /holds -Infinity at element 2/,
    'int64 beyond 2^53': /holds an integer beyond ±2\^53/,
  };
  // NumPy refuses these too; ndcnn's reason.
  const REFUSED: Record<string, RegExp> = {
    'extra key': /header keys should be exactly descr, fortran_order, shape \(as NumPy requires\): 'extra' extra/,
    'missing shape': /'shape' missing/,
    'shape 4e0': /the number 4e… is not a plain integer \(NumPy refuses a shape of floats too\)/,
    'shape 4.0': /the number 4\.… is not a plain integer/,
    'shape underscore': /the number 0_… is not a plain integer/,
    'shape True': /expected a decimal integer at character 51/,
    'shape negative': /shape \(-4\) is not non-negative integers/,
    'shape not a tuple': /\(n\) is n in Python, not a tuple: a 1-D shape is \(n,\)/,
    'shape a list': /a list \(the descr of a structured dtype\) is not read/,
    'shape 2**70': /is not non-negative integers below 2\^53/,
    'fortran_order 0': /fortran_order should be True or False, got 0/,
    'fortran_order a string': /fortran_order should be True or False, got "False"/,
    'descr structured': /a list \(the descr of a structured dtype\) is not read at character 10/,
    'text after the dict': /unexpected text after the dictionary/,
    'not a dict': /expected '\{' at character 0/,
    unterminated: /expected a decimal integer at character 53/,
    'header over 10000 bytes': /header of 10108 bytes is longer than NumPy's 10000-byte limit/,
    'data one byte short': /needs 16 data bytes, the file holds 15/,
    'version 1.1': /\.npy format version 1\.1; there are versions 1\.0, 2\.0 and 3\.0/,
    'version 4.0': /format version 4\.0/,
  };
  it.each(record.npy.map((c) => [c.name, c] as const))('%s', (name, c) => {
    const bytes = Buffer.from(c.bytes, 'base64');
    // The tables match what NumPy did, so neither can hide a disagreement.
    expect(name in STRICTER ? true : name in REFUSED ? false : c.numpy.ok).toBe(c.numpy.ok);
    if (name in STRICTER || name in REFUSED) {
      refused(() => decodeNpy(bytes, 'x.npy'), 'x.npy', STRICTER[name] ?? REFUSED[name]);
    } else {
      const a = decodeNpy(bytes, 'x.npy');
      expect([a.descr, a.shape]).toEqual([c.numpy.dtype, c.numpy.shape]);
      expect([...a.data]).toEqual(c.numpy.values.map(number));
    }
  });
});

describe('.npz archives, damaged and hostile (np.load and reading every member on each)', () => {
  const STRICTER: Record<string, RegExp> = {
    'two members named a.npy': /two members are named 'a\.npy'/,
    'member not .npy': /member 'notes\.txt' is not a \.npy file/,
    'member named __proto__': /member '__proto__' is not a \.npy file/,
    'compressed size declared 100 too large': /member 'a\.npy' inflates to 176 bytes, not the 276 its directory entry declares/,
    'trailing garbage': /10 bytes follow the end-of-central-directory record \(something appended\?\)/,
  };
  const REFUSED: Record<string, RegExp> = {
    'stored member with a flipped data byte': /member 'a\.npy' fails its CRC-32 check/,
    'compressed member with a wrong CRC': /member 'a\.npy' fails its CRC-32 check \(stored 0x463bcdf1, computed 0x463bcdf0\)/,
    'compressed size declared 100 too small': /member 'a\.npy' inflates to more than the 76 bytes its directory entry declares/,
    'compressed size runs past the archive': /member 'a\.npy' declares 1000087 compressed bytes from offset 55, past the end of the member data at 272 \(truncated, or sizes that lie\)/,
    'local header offset out of range': /member 'a\.npy': no local header at offset 10000000 \(truncated, or offsets that lie\)/,
    'savez truncated at 0.3': /it begins as a zip archive but is truncated: no end-of-central-directory record/,
    'savez truncated at 0.7': /it begins as a zip archive but is truncated/,
    'savez truncated at 0.95': /it begins as a zip archive but is truncated/,
    'savez_compressed truncated at 0.5': /it begins as a zip archive but is truncated/,
  };
  it.each(record.npz.map((c) => [c.name, c] as const))('%s', (name, c) => {
    const bytes = readFileSync(join(HOSTILE, c.file));
    expect(name in STRICTER ? true : name in REFUSED ? false : c.numpy.ok).toBe(c.numpy.ok);
    if (name in STRICTER || name in REFUSED) {
      refused(() => decodeNpz(bytes, c.file), c.file, STRICTER[name] ?? REFUSED[name]);
    } else {
      const arrays = decodeNpz(bytes, c.file);
      expect(Object.keys(arrays)).toEqual(c.numpy.files);
      for (const [k, a] of Object.entries(c.numpy.arrays)) expect([arrays[k].descr, arrays[k].shape, [...arrays[k].data]]).toEqual([a.dtype, a.shape, a.values]);
    }
  });

  const npy = npyHeader('<f4', [2]);
  const body = Buffer.concat([npy, Buffer.from(new Float32Array([1, 2]).buffer)]);
  it.each([
    ['a local header naming another member', [{ name: 'a.npy', data: body, localName: 'b.npy' }], {}, /member 'a\.npy': its local header names it 'b\.npy'/],
    ['an encrypted member', [{ name: 'a.npy', data: body, flags: 1 }], {}, /member 'a\.npy' is encrypted/],
    ['bzip2 compression', [{ name: 'a.npy', data: body, method: 12 }], {}, /member 'a\.npy' uses compression method 12; \.npz members are stored \(0\) or deflated \(8\)/],
    ['a stored member whose sizes disagree', [{ name: 'a.npy', data: body, size: body.length + 4 }], {}, /member 'a\.npy' is stored uncompressed, yet declares 140 bytes in 136/],
    ['a deflated member declaring 1 byte', [{ name: 'a.npy', data: body, method: 8, size: 1 }], {}, /member 'a\.npy' inflates to more than the 1 bytes its directory entry declares/],
    ['a deflated member declaring a compressed size past the data', [{ name: 'a.npy', data: body, method: 8, compressedSize: 10_000 }], {}, /declares 10000 compressed bytes from offset 35, past the end of the member data/],
    ['a central directory offset that lies', [{ name: 'a.npy', data: body }], { cdOffsetDelta: -7 }, /the central directory is declared at bytes \[\d+, \d+\) but ends at \d+, where the end record is \(truncated, or sizes that lie\)/],
    ['a comment cut short', [{ name: 'a.npy', data: body }], { comment: 40 }, /the end-of-central-directory record's 40-byte comment runs past the end of the archive \(truncated\?\)/],
  ])('%s', (_, members, o, message) => {
    expect(() => decodeNpz(zipArchive(members as never, o), 'x.npz')).toThrow(message);
  });
  it.each([1, 50, 400])('deflate data cut %i bytes short inside a member', (cut) => {
    const data = Buffer.concat([npyHeader('<f8', [500]), Buffer.from(Float64Array.from({ length: 500 }, Math.sqrt).buffer)]);
    expect(() => decodeNpz(zipArchive([{ name: 'a.npy', data, method: 8, cut }]), 'x.npz')).toThrow(/^x\.npz: member 'a\.npy': its deflate data is damaged or truncated \(unexpected end of file\)/);
  });
});

describe('ONNX graphs onnx.checker refuses, and values it lets through (fixtures/make_hostile.py)', () => {
  const EXPECTED: Record<string, RegExp | null> = {
    'valid (torch export)': null,
    'valid batch norm (torch export)': null,
    'a node writes the graph input': /node '\/1\/Relu' \(Relu\) writes 'input', which is already a graph input; each name is assigned once \(SSA\)/,
    'a node writes an initializer': /node '\/1\/Relu' \(Relu\) writes '3\.bias', which is already an initializer/,
    'two nodes write one name': /node '\/1\/Relu' \(Relu\) writes '\/0\/Conv_output_0', which is already the output of node '\/0\/Conv' \(Conv\)/,
    'a node reads an undefined name': /node '\/3\/Conv' \(Conv\) reads 'nowhere', which no graph input, initializer or earlier node defines \(nodes must be in topological order\)/,
    'nodes out of topological order': /node '\/2\/MaxPool' \(MaxPool\) reads '\/1\/Relu_output_0', which no graph input, initializer or earlier node defines/,
    'a node reads its own output': /node '\/1\/Relu' \(Relu\) reads '\/1\/Relu_output_0', which no/,
    'graph output computed by no node': /graph output 'elsewhere' is computed by no node/,
    'initializer defined twice': /initializer '0\.bias' is defined twice/,
    'graph input listed twice': /graph input 'input' is listed twice/,
    'NaN weight': /loadStateDict: '0\.weight' holds NaN at element 3/,
    '+Inf bias': /'3\.bias' holds Infinity at element 0/,
    '-Inf weight': /'6\.weight' holds -Infinity at element 7/,
    'negative running_var': /'2\.running_var' holds -0\.5 at element 1; a variance is never negative/,
    'NaN running_var': /'2\.running_var' holds NaN at element 0/,
    'Inf running_mean': /'2\.running_mean' holds Infinity at element 2/,
    'valid, values in float_data (onnx.helper)': null,
    'valid float64 graph, values in double_data': null,
    'valid batch norm, values in float_data': null,
    'values in both raw_data and float_data': /initializer '0\.weight': its values are in both raw_data and float_data; a tensor keeps them in one field/,
    'a FLOAT tensor with its values in double_data': /initializer '0\.weight': a FLOAT tensor keeps its values in raw_data or float_data, not double_data/,
    'values in an external file': /initializer '0\.weight': its values are in an external file \(external_data\), which ndcnn does not read/,
    // onnx.checker does not count the values; NumPy's to_array cannot reshape them.
    'float_data with one value more than its dims': /initializer '0\.weight': dims \[4, 1, 3, 3\] need 36 values, float_data holds 37 values/,
    'NaN in float_data': /'0\.weight' holds NaN at element 2/,
  };
  it('every fixture has an expectation', () => expect(record.onnx_graphs.map((c) => c.name)).toEqual(Object.keys(EXPECTED)));
  it.each(record.onnx_graphs.map((c) => [c.name, c] as const))('%s', (name, c) => {
    const path = join(HOSTILE, c.file);
    const expected = EXPECTED[name];
    // Whatever the checker refuses, ndcnn refuses (the converse is the list of values it lets through).
    if (c.checker !== 'passed') expect(expected).not.toBeNull();
    if (expected !== null) return refused(() => networkFromOnnx(path), path, expected);
    // Valid files load bit for bit: every parameter and statistic is its initializer's float32 value.
    const { network } = networkFromOnnx(path, { dtype: 'float64' });
    const tensors = [...network.namedParameters().map((p) => [p.name, network.params.subarray(p.offset, p.offset + p.size)] as const), ...network.namedBuffers().filter((b) => !b.integer).map((b) => [b.name, b.data] as const)];
    expect(tensors.map(([n]) => n).sort()).toEqual(Object.keys(c.initializers!).sort());
    for (const [n, data] of tensors) expect([...data]).toEqual(c.initializers![n]);
    if (c.output) {
      // PyTorch's float32 forward pass against ndcnn's float64 one on the same float32 values: 1e-5 as in onnx.test.ts.
      const y = network.predict(Float64Array.from(c.input!), 2);
      y.forEach((v, i) => expect(Math.abs(v - c.output![i])).toBeLessThan(1e-5));
    }
  });
});

describe('ONNX initializer encodings protobuf allows, written by hand', () => {
  const net = new Network(cpuBackend('float32'), [1, 4, 4], [conv({ channels: 2, kernel: 3 }), flatten(), dense({ units: 2 })]);
  net.init(7);
  // The model with `0.weight` (18 float32 values) moved from raw_data into `runs` of float_data.
  const withRuns = (cut: (raw: Uint8Array) => Uint8Array[]) => {
    const m = decodeModel(networkToOnnx(net), 'x');
    const w = m.graph.initializer!.find((t) => t.name === '0.weight')!;
    w.float_data = cut(w.raw_data!);
    delete w.raw_data;
    return encodeModel(m);
  };
  const weight = () => [...net.params.subarray(0, 18)];

  it('float_data in several packed runs (protobuf concatenates them) loads bit for bit', () => {
    const file = withRuns((raw) => [raw.subarray(0, 8), raw.subarray(8, 8), raw.subarray(8)]);
    const back = networkFromOnnx(file).network;
    expect([...back.params.subarray(0, 18)]).toEqual(weight());
    expect([...back.params]).toEqual([...net.params]);
  });
  it.each([
    ['a run that is not a whole number of floats', (raw: Uint8Array) => [raw.subarray(0, 13)], /initializer '0\.weight': dims \[2, 1, 3, 3\] need 18 values, float_data holds 13 bytes, not a whole number of 4-byte values/],
    ['runs holding one value too few', (raw: Uint8Array) => [raw.subarray(0, 40), raw.subarray(40, 68)], /need 18 values, float_data holds 17 values/],
    ['no values at all', () => [], /need 18 values, the tensor holds 0 values/],
  ])('%s is refused', (_, cut, message) => {
    refused(() => networkFromOnnx(withRuns(cut)), 'onnx bytes', message);
  });
  it('the unpacked form (one tag per value, which no ONNX writer emits) is refused, not half-read', () => {
    // The same schema with float_data unpacked, as protobuf permits a writer to encode it.
    const schema = structuredClone(onnxSchema) as { nested: { onnx: { nested: { TensorProto: { fields: { float_data: { options?: object } } } } } } };
    delete schema.nested.onnx.nested.TensorProto.fields.float_data.options;
    const Model = protobuf.Root.fromJSON(schema as protobuf.INamespace).lookupType('onnx.ModelProto');
    const m = decodeModel(networkToOnnx(net), 'x') as unknown as { graph: { initializer: { name: string; raw_data?: Uint8Array; float_data?: number[] }[] } };
    const w = m.graph.initializer.find((t) => t.name === '0.weight')!;
    w.float_data = weight();
    delete w.raw_data;
    const bytes = Model.encode(Model.fromObject(m)).finish();
    // 18 × (tag + float) = 90 bytes where the packed form takes tag + length + 72 = 74.
    expect(bytes.length).toBe(withRuns((raw) => [raw]).length + 16);
    refused(() => networkFromOnnx(bytes), 'onnx bytes', /initializer '0\.weight': dims \[2, 1, 3, 3\] need 18 values, the tensor holds 0 values/);
  });
});
