/**
 * im2col/col2im inside the wasm module (asm/lowering.ts) and the whole float32 conv passes
 * built on them (gemm-wasm.ts). The wasm lowering must write the JS lowering's column matrix
 * bit for bit, and the passes must run the very GEMM calls that the JS lowering + wasm GEMM
 * composition runs, so their results are compared bit for bit too (toEqual on Float32Arrays);
 * the backend under the wasm choice is then compared with the JS GEMM path within float32 rounding.
 */
import { describe, expect, it } from 'vitest';
import { CpuBackend } from '../../src/nd/backends/cpu/index.js';
import { col2im, im2col, jsLowering, type ConvKernels } from '../../src/nd/backends/cpu/conv.js';
import { chooseGemm } from '../../src/nd/backends/cpu/gemm-select.js';
import { loadWasmKernels } from '../../src/nd/backends/cpu/gemm-wasm.js';
import { ConvGeometry } from '../../src/nd/geometry.js';
import { Rng } from '../../src/nd/rng.js';
import { relError } from '../helpers.js';

const wasm = loadWasmKernels();
const rng = new Rng(13);
const random = (n: number) => Float32Array.from({ length: n }, () => rng.normal());

/** A random geometry of rank 1–3 with padding, stride, dilation and odd sizes on each axis. */
function randomGeometry(i: number): ConvGeometry {
  const rank = 1 + (i % 3);
  const kernel = Array.from({ length: rank }, () => 1 + rng.int(4));
  const stride = Array.from({ length: rank }, () => 1 + rng.int(3));
  const dilation = Array.from({ length: rank }, () => 1 + rng.int(3));
  const padding = kernel.map((k, a) => rng.int(dilation[a] * (k - 1) + 1));
  const size = kernel.map((k, a) => dilation[a] * (k - 1) + 1 + rng.int(rank === 3 ? 6 : 11));
  return new ConvGeometry(`random ${i}`, [1 + rng.int(3), ...size], { channels: 1 + rng.int(4), kernel, stride, padding, dilation });
}

const GEOMETRIES = Array.from({ length: 60 }, (_, i) => randomGeometry(i));

describe('wasm im2col/col2im against the JS lowering, bit for bit', () => {
  it.each(GEOMETRIES.map((g, i) => [i, g] as const))('random geometry %i', (_, g) => {
    const CK = g.cin * g.kernelVolume;
    const O = g.outVolume;
    const x = random(2 * g.cin * g.inVolume);
    // Whole columns, and a range whose ends fall mid-line; the second sample via xOff.
    for (const [o0, o1] of [[0, O], [Math.floor(O / 3), O - Math.floor(O / 4)]]) {
      if (o1 <= o0) continue;
      const [js, wa] = [new Float32Array(CK * (o1 - o0)).fill(NaN), new Float32Array(CK * (o1 - o0)).fill(NaN)];
      im2col(js, x, g.cin * g.inVolume, g, o0, o1);
      wasm.lowering.im2col(wa, x, g.cin * g.inVolume, g, o0, o1);
      expect(wa).toEqual(js);
      const col = random(CK * (o1 - o0));
      const [dxJs, dxWa] = [x.slice(), x.slice()];
      col2im(dxJs, g.cin * g.inVolume, col, g, o0, o1);
      wasm.lowering.col2im(dxWa, g.cin * g.inVolume, col, g, o0, o1);
      expect(dxWa).toEqual(dxJs);
    }
  });
});

// The composition the wasm path ran before: JS lowering, wasm GEMM on copies.
const composed: ConvKernels = { gemm: wasm.gemm, lowering: jsLowering };
const wasmChoice = chooseGemm('wasm');
const jsChoice = chooseGemm('js');

interface Case {
  name: string; n: number; cin: number; cout: number; size: number[];
  kernel: number; stride: number; padding: number; dilation: number;
}
const CASES: Case[] = [
  // Several column chunks (2^17 elements of col each; see conv.ts), chunk edges mid-line.
  { name: '1-D, 2 chunks', n: 2, cin: 1, cout: 2, size: [50002], kernel: 3, stride: 1, padding: 0, dilation: 1 },
  { name: '2-D padded, 3 chunks', n: 2, cin: 2, cout: 3, size: [101, 99], kernel: 3, stride: 1, padding: 1, dilation: 1 },
  { name: '3-D strided, dilated, padded', n: 2, cin: 2, cout: 3, size: [30, 29, 31], kernel: 3, stride: 2, padding: 1, dilation: 2 },
  { name: '2-D one chunk, stride 3', n: 3, cin: 3, cout: 4, size: [17, 23], kernel: 4, stride: 3, padding: 2, dilation: 1 },
];

describe.each(CASES)('wasm conv passes, $name', (c) => {
  const g = new ConvGeometry(c.name, [c.cin, ...c.size], { ...c, channels: c.cout });
  const size = (s: readonly number[]) => s.reduce((p, q) => p * q, 1);
  const [xN, wN, yN] = [size(g.inShape(c.n)), size(g.weightShape()), size(g.outShape(c.n))];
  const [x, w, dy] = [random(xN), random(wN), random(yN)];
  const backend = (k: typeof wasmChoice) => new CpuBackend('float32', k);

  for (const accumulate of [false, true]) {
    it(`forward, backward data and filter equal the JS lowering + wasm GEMM bit for bit (accumulate ${accumulate})`, () => {
      const start = [random(yN), random(xN), random(wN)];
      const run = (k: ConvKernels) => {
        const [y, dx, dw] = start.map((a) => a.slice());
        const b = new CpuBackend('float32', { ...wasmChoice, gemm: k.gemm, lowering: k.lowering, passes: k.passes });
        const up = (s: number[], a: Float32Array) => b.wrap(s, a);
        b.conv(up(g.outShape(c.n), y), up(g.inShape(c.n), x), up(g.weightShape(), w), g, accumulate);
        b.convBackData(up(g.inShape(c.n), dx), up(g.outShape(c.n), dy), up(g.weightShape(), w), g, accumulate);
        b.convBackFilter(up(g.weightShape(), dw), up(g.inShape(c.n), x), up(g.outShape(c.n), dy), g, accumulate);
        return [y, dx, dw];
      };
      const [passes, before] = [run({ gemm: wasm.gemm, lowering: jsLowering, passes: wasm.passes }), run(composed)];
      expect(passes[0]).toEqual(before[0]);
      expect(passes[1]).toEqual(before[1]);
      expect(passes[2]).toEqual(before[2]);
    });
  }

  it('the wasm backend agrees with the JS GEMM path within float32 rounding', () => {
    const [bw, bj] = [backend(wasmChoice), backend(jsChoice)];
    const results = [bw, bj].map((b) => {
      const [y, dx, dw] = [b.zeros(g.outShape(c.n)), b.zeros(g.inShape(c.n)), b.zeros(g.weightShape())];
      b.conv(y, b.upload(g.inShape(c.n), x), b.upload(g.weightShape(), w), g, false);
      b.convBackData(dx, b.upload(g.outShape(c.n), dy), b.upload(g.weightShape(), w), g, false);
      b.convBackFilter(dw, b.upload(g.inShape(c.n), x), b.upload(g.outShape(c.n), dy), g, false);
      return [y, dx, dw].map((t) => b.download(t));
    });
    // Sums of up to CK = 54 (forward, back data) or n·O ≈ 10^5 (filter) float32 products in two
    // different orders: relative differences of ~1e-7·√terms; 1e-4 is far below a wrong index's O(1).
    for (let i = 0; i < 3; i++) expect(relError(results[0][i], results[1][i])).toBeLessThan(1e-4);
  });
});

describe('the wasm choice', () => {
  it('runs its passes for float32 only: float64 takes the JS lowering and kernel, as the js choice does', () => {
    expect(wasmChoice.passes).toBeDefined();
    const g = new ConvGeometry('f64', [2, 9, 7], { channels: 3, kernel: 3, padding: 1 });
    const x = random(2 * 9 * 7);
    const w = random(3 * 2 * 9);
    const y = [wasmChoice, jsChoice].map((k) => {
      const b = new CpuBackend('float64', k);
      const out = b.zeros(g.outShape(1));
      b.conv(out, b.upload(g.inShape(1), x), b.upload(g.weightShape(), w), g, false);
      return b.download(out);
    });
    expect(y[0]).toBeInstanceOf(Float64Array);
    expect(y[0]).toEqual(y[1]);
  });
});
