/**
 * The CPU backend's GEMM lowering splits each sample's output columns into cache-sized chunks
 * (src/nd/backends/cpu/conv.ts). The layer tests use shapes that fit one chunk; these shapes
 * need several, with chunk edges falling mid-line, under padding, stride and dilation, so the
 * chunked im2col, col2im and the filter-gradient accumulation across chunks are all exercised.
 * Which lowering runs follows the backend's GEMM choice: C with OpenBLAS, JS with js or wasm;
 * the last blocks compare the two directly and check that a backend's choice decides it.
 */
import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../../src/nd/backends/cpu/index.js';
import { col2im, im2col } from '../../src/nd/backends/cpu/conv.js';
import { chooseGemm } from '../../src/nd/backends/cpu/gemm-select.js';
import { loadNativeGemm, type NativeLowering } from '../../src/nd/backends/cpu/gemm-native.js';
import { ConvGeometry } from '../../src/nd/geometry.js';
import { Rng } from '../../src/nd/rng.js';
import { naiveConv, naiveFilterGradient, type ConvOpts } from '../reference.js';
import { randn, relError } from '../helpers.js';

const B = cpuBackend('float64');

interface Case { name: string; n: number; cin: number; cout: number; size: number[]; kernel: number; o: ConvOpts }
// Column chunks hold 2^17 elements of col: CK = cin·Πkernel rows, so 2^17 / CK columns each.
const CASES: Case[] = [
  // 1-D: CK = 3, chunks of 43690 columns; 50000 outputs → 2 chunks.
  { name: '1-D', n: 1, cin: 1, cout: 2, size: [50002], kernel: 3, o: { stride: 1, padding: 0, dilation: 1 } },
  // 2-D: CK = 18, chunks of 7281 columns (not a multiple of the 100-wide lines); 100×100 outputs.
  { name: '2-D padded', n: 2, cin: 2, cout: 2, size: [100, 100], kernel: 3, o: { stride: 1, padding: 1, dilation: 1 } },
  // 3-D: CK = 54, chunks of 2427 columns; 14³ = 2744 outputs.
  { name: '3-D strided, dilated, padded', n: 1, cin: 2, cout: 3, size: [30, 30, 30], kernel: 3, o: { stride: 2, padding: 1, dilation: 2 } },
];

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

describe.each(CASES)('chunked conv lowering, $name', (c) => {
  const rng = new Rng(11);
  const g = new ConvGeometry(c.name, [c.cin, ...c.size], {
    channels: c.cout, kernel: c.kernel, stride: c.o.stride, padding: c.o.padding, dilation: c.o.dilation,
  });
  const xShape = g.inShape(c.n);
  const wShape = g.weightShape();
  const yShape = g.outShape(c.n);
  const size = (s: readonly number[]) => s.reduce((p, q) => p * q, 1);
  const x = randn(rng, size(xShape));
  const w = randn(rng, size(wShape));
  const dy = randn(rng, size(yShape));
  // float64 sums of at most 54 products: rounding is ~1e-15 relative, 1e-12 leaves 1000× room;
  // a misplaced chunk or a dropped column errs by O(1).
  const TOL = 1e-12;

  it('forward equals the nested-loop sum', () => {
    const y = B.zeros(yShape);
    B.conv(y, B.upload(xShape, x), B.upload(wShape, w), g, false);
    expect(relError(B.download(y), naiveConv(x, [...xShape], w, [...wShape], c.o).y)).toBeLessThan(TOL);
  });

  it('filter gradient equals Σ over output positions, accumulated across chunks', () => {
    const dw = B.zeros(wShape);
    B.convBackFilter(dw, B.upload(xShape, x), B.upload(yShape, dy), g, false);
    expect(relError(B.download(dw), naiveFilterGradient(x, [...xShape], dy, [...yShape], [...wShape], c.o))).toBeLessThan(TOL);
  });

  it('backward data is the adjoint: ⟨conv(x, w), dy⟩ = ⟨x, convBackData(dy, w)⟩', () => {
    const y = B.zeros(yShape);
    const dx = B.zeros(xShape);
    B.conv(y, B.upload(xShape, x), B.upload(wShape, w), g, false);
    B.convBackData(dx, B.upload(yShape, dy), B.upload(wShape, w), g, false);
    const lhs = dot(B.download(y), dy);
    const rhs = dot(x, B.download(dx));
    expect(Math.abs(lhs - rhs) / Math.max(Math.abs(lhs), 1)).toBeLessThan(TOL);
  });
});

describe('native im2col/col2im (ndcnn-blas)', () => {
  let lowering: NativeLowering | undefined;
  try {
    lowering = loadNativeGemm().addon;
  } catch (e) {
    console.warn(`native lowering skipped: the OpenBLAS addon does not load here (${(e as Error).message.split('\n')[0]})`);
  }
  const g = new ConvGeometry('native', [3, 9, 8, 7], { channels: 2, kernel: [2, 3, 2], stride: [1, 2, 3], padding: [1, 0, 2], dilation: [2, 1, 1] });
  const CK = g.cin * g.kernelVolume;
  const packed = Int32Array.from([g.cin, ...g.in3, ...g.k3, ...g.s3, ...g.p3, ...g.d3, ...g.o3]);

  it.skipIf(!lowering)('matches the JS walk on a strided, padded, dilated 3-D chunk, both dtypes', () => {
    const rng = new Rng(5);
    const [o0, o1] = [7, g.outVolume - 3]; // a chunk that starts and ends mid-line
    for (const make of [(n: number) => new Float64Array(n), (n: number) => new Float32Array(n)]) {
      const x = make(5 + g.cin * g.inVolume).map(() => rng.normal());
      const cJs = make(CK * (o1 - o0)).fill(NaN);
      const cC = make(CK * (o1 - o0)).fill(NaN);
      im2col(cJs, x, 5, g, o0, o1);
      lowering!.im2col(cC, x, 5, packed, o0, o1);
      expect(Array.from(cC)).toEqual(Array.from(cJs));
      const dJs = make(x.length);
      const dC = make(x.length);
      col2im(dJs, 5, cJs, g, o0, o1);
      lowering!.col2im(cJs, dC, 5, packed, o0, o1);
      expect(Array.from(dC)).toEqual(Array.from(dJs));
    }
  });

  it.skipIf(!lowering)('matches the JS walk without padding (the C fast path: whole lines), strided, dilated, mid-line chunks', () => {
    const v = new ConvGeometry('valid', [3, 9, 8, 7], { channels: 2, kernel: [2, 3, 2], stride: [2, 2, 1], dilation: [1, 2, 3] });
    const pv = Int32Array.from([v.cin, ...v.in3, ...v.k3, ...v.s3, ...v.p3, ...v.d3, ...v.o3]);
    const ck = v.cin * v.kernelVolume;
    const rng = new Rng(7);
    for (const make of [(n: number) => new Float64Array(n), (n: number) => new Float32Array(n)]) {
      const x = make(3 + v.cin * v.inVolume).map(() => rng.normal());
      for (const [o0, o1] of [[0, v.outVolume], [1, v.outVolume - 2], [5, 6]]) {
        const [cJs, cC] = [make(ck * (o1 - o0)).fill(NaN), make(ck * (o1 - o0)).fill(NaN)];
        im2col(cJs, x, 3, v, o0, o1);
        lowering!.im2col(cC, x, 3, pv, o0, o1);
        expect(Array.from(cC)).toEqual(Array.from(cJs));
        const [dJs, dC] = [make(x.length), make(x.length)];
        col2im(dJs, 3, cJs, v, o0, o1);
        lowering!.col2im(cJs, dC, 3, pv, o0, o1);
        expect(Array.from(dC)).toEqual(Array.from(dJs));
      }
    }
  });

  it.skipIf(!lowering)('chunks that end before a padded tap reaches the input (one-column edges) copy nothing there', () => {
    // 1-D, 4088 inputs, kernel 9, padding 8: tap 0 reads x for outputs [8, 4096), tap 8 for
    // [0, 4088). The one-column chunk [4095, 4096) starts after tap 8's run ends, [0, 1) ends
    // before tap 0's starts: the C copy once took the negative length as a huge memcpy.
    const p = new ConvGeometry('edge', [2, 4088], { channels: 1, kernel: 9, padding: 8 });
    const pk = Int32Array.from([p.cin, ...p.in3, ...p.k3, ...p.s3, ...p.p3, ...p.d3, ...p.o3]);
    const rng = new Rng(6);
    const x = Float32Array.from({ length: p.cin * p.inVolume }, () => rng.normal());
    const ck = p.cin * p.kernelVolume;
    for (const [o0, o1] of [[p.outVolume - 1, p.outVolume], [0, 1], [4090, 4093]]) {
      const [cJs, cC] = [new Float32Array(ck * (o1 - o0) + 16).fill(NaN), new Float32Array(ck * (o1 - o0) + 16).fill(NaN)];
      im2col(cJs, x, 0, p, o0, o1);
      lowering!.im2col(cC, x, 0, pk, o0, o1);
      expect(Array.from(cC)).toEqual(Array.from(cJs)); // including the 16 NaN past the chunk
      const [dJs, dC] = [new Float32Array(x.length), new Float32Array(x.length)];
      col2im(dJs, 0, cJs, p, o0, o1);
      lowering!.col2im(cC, dC, 0, pk, o0, o1);
      expect(Array.from(dC)).toEqual(Array.from(dJs));
    }
  });

  it.skipIf(!lowering)('refuses buffers too short for the geometry instead of writing past them', () => {
    const x = new Float32Array(g.cin * g.inVolume);
    expect(() => lowering!.im2col(new Float32Array(CK * 4 - 1), x, 0, packed, 0, 4)).toThrow(/col length/);
    expect(() => lowering!.im2col(new Float32Array(CK * 4), x, 1, packed, 0, 4)).toThrow(/x length/);
  });
});

describe("a CPU backend's GEMM choice decides its lowering", () => {
  const g = new ConvGeometry('choice', [2, 9, 8], { channels: 3, kernel: 3, padding: 1 });
  const rng = new Rng(3);
  const x = randn(rng, 2 * g.cin * g.inVolume);
  const w = randn(rng, g.cout * g.cin * g.kernelVolume);

  it('js runs the JS lowering, whatever NDCNN_GEMM said, and says so', () => {
    const js = chooseGemm('js');
    expect(js.lowering.im2col).toBe(im2col);
    const b = cpuBackend('float64', js);
    expect(b.describe()).toMatch(/gemm js \(gemm=js\)/);
    const y = b.zeros(g.outShape(2));
    b.conv(y, b.upload(g.inShape(2), x), b.upload(g.weightShape(), w), g, false);
    // float64 sums of 18 products: ~1e-15 relative; a wrong lowering errs by O(1).
    expect(relError(b.download(y), naiveConv(x, g.inShape(2), w, g.weightShape(), { stride: 1, padding: 1, dilation: 1 }).y)).toBeLessThan(1e-12);
  });

  it('openblas brings the C lowering with it', () => {
    const blas = chooseGemm('openblas');
    if (blas.info.impl !== 'openblas') {
      console.warn(`openblas check skipped: ${blas.info.reason}`);
      return;
    }
    expect(blas.lowering.im2col).not.toBe(im2col);
    expect(cpuBackend('float32', blas).describe()).toMatch(/gemm openblas/);
  });
});
