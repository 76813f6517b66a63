import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { DataError } from '../../datasets/errors.js';
import { loadFashionMnist } from '../../datasets/fashion.js';
import { gunzipBounded } from '../../datasets/gzip.js';
import { readIdx } from '../../datasets/idx.js';
import { FIXTURE_DATA } from '../data.js';
import { makeIdx } from './synth.js';

describe('readIdx', () => {
  it('reads the committed Fashion-MNIST excerpt: 100 test images of 28x28 uint8, labels 0..9', () => {
    const images = readIdx(readFileSync(join(FIXTURE_DATA, 'fashion-mnist', 't10k-images-idx3-ubyte.gz')), 't10k-images');
    expect(images.shape).toEqual([100, 28, 28]);
    expect(images.data).toBeInstanceOf(Uint8Array);
    const ds = loadFashionMnist(FIXTURE_DATA, 'test');
    expect(ds.shape).toEqual([100, 1, 28, 28]);
    expect(ds.labels.every((l) => l >= 0 && l <= 9)).toBe(true);
    expect(new Set(ds.labels).size).toBe(10); // the first 100 test images hold every class
    // Pixels are the stored bytes / 255: compare one image with the raw file.
    for (let i = 0; i < 784; i++) expect(ds.inputs[784 * 73 + i]).toBe(Math.fround(images.data[784 * 73 + i] / 255));
  });

  const put = {
    u8: (v: DataView, at: number, x: number) => v.setUint8(at, x),
    i8: (v: DataView, at: number, x: number) => v.setInt8(at, x),
    i16: (v: DataView, at: number, x: number) => v.setInt16(at, x),
    i32: (v: DataView, at: number, x: number) => v.setInt32(at, x),
    f32: (v: DataView, at: number, x: number) => v.setFloat32(at, x),
    f64: (v: DataView, at: number, x: number) => v.setFloat64(at, x),
  };
  it.each([
    ['uint8', 0x08, 1, put.u8, [0, 1, 255, 128, 7, 9], Uint8Array],
    ['int8', 0x09, 1, put.i8, [0, -1, 127, -128, 7, -9], Int8Array],
    ['int16', 0x0b, 2, put.i16, [0, -1, 32767, -32768, 258, -258], Int16Array],
    ['int32', 0x0c, 4, put.i32, [0, -1, 2147483647, -2147483648, 65536, -70000], Int32Array],
    ['float32', 0x0d, 4, put.f32, [0, -1.5, 0.25, 2 ** 100, -2, 3], Float32Array],
    ['float64', 0x0e, 8, put.f64, [0, -1.5, Math.PI, 1e300, -2, 3], Float64Array],
  ] as const)('%s, big-endian, plain and gzipped', (_, type, bytes, writer, values, Kind) => {
    const file = makeIdx(type, bytes, [2, 3], [...values], writer);
    for (const b of [file, gzipSync(file)]) {
      const idx = readIdx(b, 'x.idx');
      expect(idx.shape).toEqual([2, 3]);
      expect(idx.data).toBeInstanceOf(Kind);
      expect(Array.from(idx.data)).toEqual([...values]);
    }
  });

  it('rejects bad magic, unknown types, truncation and trailing bytes with one clear line', () => {
    const file = makeIdx(0x08, 1, [2, 3], [1, 2, 3, 4, 5, 6], put.u8);
    const bad = Uint8Array.from(file);
    bad[0] = 1;
    expect(() => readIdx(bad, 'a')).toThrow('a: bad IDX magic 01 00 08 02 (expected 00 00 TYPE NDIMS)');
    bad.set([0, 0, 0x0a]);
    expect(() => readIdx(bad, 'b')).toThrow('b: unknown IDX element type 0x0a');
    expect(() => readIdx(file.subarray(0, 15), 'c')).toThrow('c: truncated IDX data (shape [2, 3] of uint8 needs 6 bytes, 3 present)');
    expect(() => readIdx(Buffer.concat([file, new Uint8Array(2)]), 'd')).toThrow('d: IDX data has trailing bytes (shape [2, 3] of uint8 needs 6 bytes, 8 present)');
    expect(() => readIdx(file.subarray(0, 9), 'e')).toThrow('e: truncated IDX header (needs 12 bytes for 2 dimensions, 9 present)');
  });

  it('a header declaring absurd sizes fails before allocating', () => {
    // 2^32-1 x 2^32-1 x 2^32-1 float64 would be ~6e29 bytes: refused by comparing with the 8 present.
    const file = makeIdx(0x0e, 8, [0xffffffff, 0xffffffff, 0xffffffff], [1], put.f64);
    expect(() => readIdx(file, 'huge')).toThrow(/^huge: truncated IDX data \(shape \[4294967295, 4294967295, 4294967295\] of float64 needs [0-9.e+]+ bytes, 8 present\)$/);
  });
});

describe('bounded gunzip', () => {
  // 64 MiB of zeros deflate to ~64 KiB: a small bomb, enough to show both defences.
  const bomb = gzipSync(new Uint8Array(64 << 20), { level: 9 });

  it('refuses a stream whose trailer declares more than the limit, before inflating', () => {
    expect(() => readIdx(bomb, 'bomb.gz', 1 << 20)).toThrow(new DataError('bomb.gz', `gzip trailer declares ${64 << 20} inflated bytes, above the limit of ${1 << 20}`));
  });

  it('stops a stream that inflates past the size its trailer declares', () => {
    const liar = Uint8Array.from(bomb);
    new DataView(liar.buffer).setUint32(liar.length - 4, 1000, true); // ISIZE forged to 1000
    expect(() => gunzipBounded(liar, 'liar.gz')).toThrow(new DataError('liar.gz', 'gzip stream inflates past the 1000 bytes its trailer declares'));
  });

  it('reports a corrupt stream as DataError', () => {
    const broken = Uint8Array.from(gzipSync(new TextEncoder().encode('hello hello hello')));
    broken[12] ^= 0xff;
    expect(() => gunzipBounded(broken, 'broken.gz')).toThrow(/^broken\.gz: corrupt gzip stream \(.+\)$/);
  });
});
