/**
 * safetensors and .npy/.npz: round trips through ndcnn's writers and readers, and every way a
 * damaged or hostile file is refused with an error naming the problem.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  decodeNpy, decodeNpz, decodeSafetensors, encodeNpy, encodeNpz, encodeSafetensors, loadNetwork, networkToSafetensors, saveNpz, saveSafetensors,
} from '../../src/io/index.js';
import { cpuBackend } from '../../src/nd/backends/cpu/index.js';
import { fixtureInput, fixtureNetwork, IN_SHAPE, SPECS } from './fixtures/ndcnn-files.js';
import { Network } from '../../src/network/index.js';

const tmp = mkdtempSync(join(tmpdir(), 'ndcnn-io-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('safetensors round trips', () => {
  it.each(['float32', 'float64'] as const)('a %s network saved and loaded is the same network, from the file alone', (dtype) => {
    const net = fixtureNetwork(dtype);
    const file = join(tmp, `net-${dtype}.safetensors`);
    saveSafetensors(net, file);
    const back = loadNetwork(file);
    expect(back.backend.dtype).toBe(dtype);
    expect(back.specs).toEqual(net.specs);
    expect(back.inShape).toEqual(net.inShape);
    expect(back.lossFn.name).toBe(net.lossFn.name);
    expect(back.params).toEqual(net.params);
    const x = fixtureInput(3);
    expect(back.predict(x, 3)).toEqual(net.predict(x, 3));
  });
  it('stores float64 parameters as F32 when asked, onto a backend the caller chooses', () => {
    const net = fixtureNetwork('float64');
    const bytes = networkToSafetensors(net, { dtype: 'float32' });
    expect(Object.values(decodeSafetensors(bytes).tensors).map((t) => t.dtype)).toEqual(new Array(7).fill('F32'));
    const back = loadNetwork(bytes, { backend: cpuBackend('float32') });
    expect(back.params).toEqual(Float32Array.from(net.params));
  });
  it('reads F16, BF16, I64 and I32 tensors exactly', () => {
    // Build the file by hand: 1.5 and −2 are exact in half and bfloat16 (0x3e00, 0xc000; 0x3fc0, 0xc000).
    const header = JSON.stringify({
      h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] },
      b: { dtype: 'BF16', shape: [2], data_offsets: [4, 8] },
      l: { dtype: 'I64', shape: [], data_offsets: [8, 16] },
      i: { dtype: 'I32', shape: [1], data_offsets: [16, 20] },
    });
    const body = new DataView(new ArrayBuffer(20));
    [0x3e00, 0xc000, 0x3fc0, 0xc000].forEach((v, k) => body.setUint16(2 * k, v, true));
    body.setBigInt64(8, 123456789012n, true);
    body.setInt32(16, -7, true);
    const t = decodeSafetensors(file(header, new Uint8Array(body.buffer))).tensors;
    expect([...t.h.data, ...t.b.data, ...t.l.data, ...t.i.data]).toEqual([1.5, -2, 1.5, -2, 123456789012, -7]);
    expect(t.l.shape).toEqual([]);
  });
  it('the written header is 8-byte aligned JSON with the architecture in __metadata__', () => {
    const bytes = networkToSafetensors(fixtureNetwork('float32'));
    const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + n) % 8).toBe(0);
    const meta = JSON.parse(Buffer.from(bytes.subarray(8, 8 + n)).toString()).__metadata__;
    expect(meta.format).toBe('pt');
    expect(JSON.parse(meta['ndcnn.architecture'])).toMatchObject({ format: 'ndcnn-network', inShape: IN_SHAPE, loss: 'softmax-cross-entropy' });
  });
});

/** A safetensors file from a header string and data bytes. */
function file(header: string, data: Uint8Array = new Uint8Array(0), length = Buffer.byteLength(header)): Uint8Array {
  const out = new Uint8Array(8 + Buffer.byteLength(header) + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(length), true);
  out.set(Buffer.from(header), 8);
  out.set(data, 8 + Buffer.byteLength(header));
  return out;
}

describe('malformed safetensors are refused with the reason', () => {
  const good = networkToSafetensors(fixtureNetwork('float32'));
  const t = (dtype: string, shape: number[], offsets: number[]) => ({ dtype, shape, data_offsets: offsets });
  it.each([
    ['too short', good.subarray(0, 5), /5 bytes: too short/],
    ['truncated data', good.subarray(0, good.length - 4), /tensor '9.bias' has data_offsets \[\d+, \d+\) outside the \d+ data bytes \(truncated file\?\)/],
    ['trailing bytes', Buffer.concat([good, new Uint8Array(4)]), /the tensors cover \d+ data bytes but the file holds \d+ \(truncated or padded\?\)/],
    ['truncated header', good.subarray(0, 40), /runs past the end of the 40-byte file/],
    ['huge header length', file('{}', new Uint8Array(0), 2 ** 40), /exceeds the 100000000-byte limit/],
    ['not JSON', file('{"a": ', new Uint8Array(0)), /header: not JSON \(/],
    ['not an object', file('[1, 2]'), /header is not a JSON object \(it does not start with \{\)/],
    ['bad metadata', file(JSON.stringify({ __metadata__: { a: 1 } })), /__metadata__ should map strings to strings/],
    ['unknown dtype', file(JSON.stringify({ w: t('C64', [1], [0, 8]) }), new Uint8Array(8)), /tensor 'w' has dtype "C64"; ndcnn reads F64, F32/],
    ['bad shape', file(JSON.stringify({ w: t('F32', [-1], [0, 4]) }), new Uint8Array(4)), /tensor 'w' has shape \[-1\]/],
    ['offsets out of range', file(JSON.stringify({ w: t('F32', [2], [0, 8]) }), new Uint8Array(4)), /data_offsets \[0, 8\) outside the 4 data bytes/],
    ['reversed offsets', file(JSON.stringify({ w: t('F32', [0], [4, 0]) }), new Uint8Array(4)), /data_offsets \[4, 0\) outside/],
    ['size mismatch', file(JSON.stringify({ w: t('F32', [3], [0, 8]) }), new Uint8Array(8)), /shape \[3\] of F32 needs 12 bytes, data_offsets give 8/],
    ['overlap', file(JSON.stringify({ a: t('F32', [2], [0, 8]), b: t('F32', [1], [4, 8]) }), new Uint8Array(8)), /tensor 'b' at bytes \[4, 8\) overlaps/],
    ['gap', file(JSON.stringify({ a: t('F32', [1], [0, 4]), b: t('F32', [1], [8, 12]) }), new Uint8Array(12)), /bytes \[4, 8\) before tensor 'b' belong to no tensor/],
    ['huge shape', file(JSON.stringify({ w: t('F64', [2 ** 30, 2 ** 30], [0, 8]) }), new Uint8Array(8)), /shape \[1073741824, 1073741824\] of F64 needs \d+ bytes, data_offsets give 8/],
  ])('%s', (_, bytes, message) => {
    expect(() => decodeSafetensors(bytes as Uint8Array, 'x.safetensors')).toThrow(message);
  });
  it('a file without ndcnn metadata, or with tensors that do not fit, cannot rebuild a network', () => {
    const plain = encodeSafetensors({ w: { dtype: 'F32', shape: [1], data: [1] } });
    expect(() => loadNetwork(plain)).toThrow(/no 'ndcnn.architecture' in __metadata__.*net.loadStateDict\(readSafetensors\(file\).tensors\)/);
    const meta = decodeSafetensors(good).metadata;
    const wrong = encodeSafetensors({ '0.weight': { dtype: 'F32', shape: [1], data: [1] } }, meta);
    expect(() => loadNetwork(wrong)).toThrow(/safetensors bytes: loadStateDict: missing tensors '0.bias', '3.weight'/);
    const badArch = encodeSafetensors({}, { 'ndcnn.architecture': JSON.stringify({ format: 'ndcnn-network', version: 1, inShape: [0], layers: [], loss: 'mse', dtype: 'float32' }) });
    expect(() => loadNetwork(badArch)).toThrow(/architecture: inShape should be positive integers, got \[0\]/);
  });
  it('a save interrupted by an error leaves the previous file intact', () => {
    const path = join(tmp, 'keep.safetensors');
    saveSafetensors(fixtureNetwork('float32'), path);
    const before = readFileSync(path);
    const net = new Network(cpuBackend('float32'), IN_SHAPE, SPECS);
    Object.defineProperty(net, 'stateDict', { value: () => ({ x: { shape: [1], data: [Number.NaN, 1] } }) });
    expect(() => saveSafetensors(net, path)).toThrow(/tensor 'x' of shape \[1\] has 2 values/);
    expect(readFileSync(path)).toEqual(before);
  });
});

describe('.npy and .npz', () => {
  it.each([
    ['<f4', [2, 3], Float32Array.from([1, 2, 3, 4, 5, 6.5])],
    ['<f8', [3], Float64Array.from([Math.PI, -1e-300, 7])],
    ['<f8', [], Float64Array.from([2])],
    ['<i8', [2, 1], Float64Array.from([-3, 2 ** 40])],
  ] as const)('%s %j round-trips, header padded to 64 bytes', (descr, shape, data) => {
    const bytes = encodeNpy({ shape, data, descr });
    expect((10 + new DataView(bytes.buffer).getUint16(8, true)) % 64).toBe(0);
    const back = decodeNpy(bytes);
    expect(back.descr).toBe(descr);
    expect(back.shape).toEqual(shape);
    expect([...back.data]).toEqual([...data]);
  });
  it('a network state dict as .npz reads back by name', () => {
    const net = fixtureNetwork('float64');
    const path = join(tmp, 'net.npz');
    saveNpz(net, path);
    const arrays = decodeNpz(readFileSync(path));
    const dict = net.stateDict();
    expect(Object.keys(arrays)).toEqual(Object.keys(dict));
    for (const [k, t] of Object.entries(dict)) expect([arrays[k].shape, arrays[k].data]).toEqual([t.shape, t.data]);
  });
  it('compressed archives (np.savez_compressed) read back too', () => {
    const z = encodeNpz({ a: { shape: [1000], data: new Float64Array(1000).fill(1) } }, true);
    expect(z.length).toBeLessThan(1000);
    expect(decodeNpz(z).a.data).toEqual(new Float64Array(1000).fill(1));
  });
  it.each([
    ['no magic', new Uint8Array(20), /not a .npy file/],
    ['truncated data', encodeNpy({ shape: [4], data: [1, 2, 3, 4] }).subarray(0, 134), /shape \(4\) of <f4 needs 16 data bytes, the file holds 6/],
    ['fortran order', withHeader("{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }"), /fortran_order arrays are not read/],
    ['big-endian', withHeader("{'descr': '>f8', 'fortran_order': False, 'shape': (1,), }"), /dtype '>f8'; ndcnn reads <f4, <f8, <i8, <i4/],
    ['garbled header', withHeader("{'descr': '<f4'}"), /header keys should be exactly descr, fortran_order, shape \(as NumPy requires\): 'fortran_order' missing, 'shape' missing/],
  ])('.npy %s is refused', (_, bytes, message) => {
    expect(() => decodeNpy(bytes as Uint8Array)).toThrow(message);
  });
  it('an archive unpacking to more than the limit is refused before it is unpacked', () => {
    const z = encodeNpz({ a: { shape: [1000], data: new Float64Array(1000) } }, true);
    expect(() => decodeNpz(z, 'big.npz', 4096)).toThrow(/big.npz: members unpack to 8\d\d\d bytes, more than the 4096-byte limit/);
  });
  it('arrays inside a larger buffer at an odd offset decode (a Buffer.slice view is copied first)', () => {
    const bytes = encodeNpy({ shape: [3], data: Float64Array.from([1, 2, 3]) });
    const shifted = Buffer.concat([Buffer.alloc(3), Buffer.from(bytes)]).subarray(3);
    expect(decodeNpy(shifted).data).toEqual(Float64Array.from([1, 2, 3]));
  });
  it('a damaged .npz is refused', () => {
    const z = encodeNpz({ a: { shape: [2], data: [1, 2] } });
    expect(() => decodeNpz(z.subarray(0, z.length - 30), 'x.npz')).toThrow(/^x.npz: it begins as a zip archive but is truncated: no end-of-central-directory record/);
  });
});

function withHeader(h: string): Uint8Array {
  const out = new Uint8Array(10 + h.length + 8);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, h.length, true);
  out.set(Buffer.from(h, 'latin1'), 10);
  return out;
}
