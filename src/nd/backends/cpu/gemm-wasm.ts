/**
 * The WebAssembly SIMD kernels (asm/gemm.ts and asm/lowering.ts, compiled by `npm run
 * build:wasm` to asm/build/gemm.wasm): the GEMM behind the GemmFn signature, and whole float32
 * convolution passes (ConvPasses) whose im2col/col2im run in wasm memory next to the GEMM.
 * float32 only: wasm SIMD has no f64 lane count worth having (2 per v128), so float64 calls go
 * to the JS kernel and lowering.
 *
 * The kernels work on their own linear memory. A lone GEMM call copies the spans of A, B (and C
 * when its old contents matter) in and C out: 4·(|A| + |B| + 2|C|) bytes against 2·M·N·K flops.
 * A convolution pass copies each sample's input and output (and the weights once) instead: the
 * column matrix, CK = Cin·Πkernel times larger than the input, never leaves wasm memory.
 */
import { readFileSync } from 'node:fs';
import type { FloatArray } from '../../dtype.js';
import type { ConvGeometry } from '../../geometry.js';
import { chunkWidth, packGeometry, type ConvPasses, type Lowering } from './conv.js';
import { gemmJs, type GemmFn } from './gemm.js';

interface WasmExports {
  memory: WebAssembly.Memory;
  workBytes(): number;
  gemm(
    ta: number, tb: number, M: number, N: number, K: number, alpha: number,
    pA: number, lda: number, pB: number, ldb: number, beta: number, pC: number, ldc: number, pWork: number,
  ): void;
  im2col(pCol: number, pX: number, pG: number, o0: number, o1: number): void;
  col2im(pDx: number, pCol: number, pG: number, o0: number, o1: number): void;
}

/** What the module offers: the GEMM, the passes, and its lowering alone (with copies, for checks against the JS one). */
export interface WasmKernels {
  gemm: GemmFn;
  passes: ConvPasses;
  lowering: Lowering;
}

export const WASM_PATH = new URL('../../../../asm/build/gemm.wasm', import.meta.url);

/** Elements spanned by a rows×cols row-major matrix with leading dimension ld. */
function span(rows: number, cols: number, ld: number): number {
  return rows === 0 || cols === 0 ? 0 : (rows - 1) * ld + cols;
}

function check(name: string, X: FloatArray, off: number, len: number, rows: number, cols: number, ld: number): void {
  if (off < 0 || off + len > X.length || (rows > 0 && ld < cols)) {
    throw new RangeError(
      `gemm (wasm): ${name} of length ${X.length} at offset ${off} with leading dimension ${ld} cannot hold ${rows}×${cols}`,
    );
  }
}

/** Float offsets of consecutive 16-byte aligned regions of the given lengths, from `start`. */
function regions(start: number, ...lengths: number[]): number[] {
  const at: number[] = [];
  for (const n of lengths) {
    at.push(start);
    start += (n + 3) & ~3;
  }
  return [...at, start];
}

/** The module's bytes where there is no file to read (a page: browser/wasm.ts bundles them). */
let provided: BufferSource | null = null;

/** Makes the CPU backend's wasm kernels loadable from these bytes instead of asm/build/gemm.wasm. */
export function provideWasm(bytes: BufferSource): void {
  provided = bytes;
}

/**
 * Instantiates the module synchronously: Node compiles a module of any size so, and a browser
 * one under 4 KB (this one is ~3 KB) even on a page's main thread.
 */
export function loadWasmKernels(bytes: BufferSource = provided ?? new Uint8Array(readFileSync(WASM_PATH))): WasmKernels {
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
    env: { abort: () => { throw new Error('gemm (wasm): abort'); } },
  });
  const wasm = instance.exports as unknown as WasmExports;
  // Layout: [first page: the module's statics][work][geometry][data regions], grown on demand.
  const work = 65536;
  const geometry = work + wasm.workBytes();
  const base = (geometry + 128) / 4;
  let heap = new Float32Array(wasm.memory.buffer);

  /** Makes floats [0, end) addressable and returns the view; sets the geometry slot to g's. */
  function reserve(end: number, g?: ConvGeometry): Float32Array {
    const need = end * 4 - wasm.memory.buffer.byteLength;
    if (need > 0) wasm.memory.grow(Math.ceil(need / 65536));
    if (heap.buffer !== wasm.memory.buffer) heap = new Float32Array(wasm.memory.buffer);
    if (g) new Int32Array(heap.buffer, geometry, 19).set(packGeometry(g));
    return heap;
  }

  const gemm: GemmFn = (ta, tb, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc) => {
    if (!(A instanceof Float32Array && B instanceof Float32Array && C instanceof Float32Array)) {
      gemmJs(ta, tb, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc);
      return;
    }
    if (M === 0 || N === 0) return;
    const [aRows, aCols] = ta ? [K, M] : [M, K];
    const [bRows, bCols] = tb ? [N, K] : [K, N];
    const aLen = span(aRows, aCols, lda);
    const bLen = span(bRows, bCols, ldb);
    const cLen = span(M, N, ldc);
    check('A', A, aOff, aLen, aRows, aCols, lda);
    check('B', B, bOff, bLen, bRows, bCols, ldb);
    check('C', C, cOff, cLen, M, N, ldc);
    const [a0, b0, c0, end] = regions(base, aLen, bLen, cLen);
    const h = reserve(end);
    h.set(A.subarray(aOff, aOff + aLen), a0);
    h.set(B.subarray(bOff, bOff + bLen), b0);
    // C comes back whole, gaps between rows included, so it goes in whole unless every
    // element is about to be overwritten (beta = 0 and no gaps).
    if (beta !== 0 || ldc !== N) h.set(C.subarray(cOff, cOff + cLen), c0);
    wasm.gemm(+ta, +tb, M, N, K, alpha, a0 * 4, lda, b0 * 4, ldb, beta, c0 * 4, ldc, work);
    C.set(h.subarray(c0, c0 + cLen), cOff);
  };

  // Each pass runs the chunks and GEMM calls of conv.ts's convForward/convBackData/convBackFilter,
  // with the sample's input and output resident in wasm memory and the column block written there.
  const passes: ConvPasses = {
    forward(y, x, w, g, batch, accumulate) {
      const [CK, O, C, X, step] = [g.cin * g.kernelVolume, g.outVolume, g.cout, g.cin * g.inVolume, chunkWidth(g)];
      const [pW, pX, pCol, pY, end] = regions(base, C * CK, X, CK * step, C * O);
      const h = reserve(end, g);
      h.set(w.subarray(0, C * CK), pW);
      for (let n = 0; n < batch; n++) {
        h.set(x.subarray(n * X, n * X + X), pX);
        if (accumulate) h.set(y.subarray(n * C * O, (n + 1) * C * O), pY);
        for (let o0 = 0; o0 < O; o0 += step) {
          const width = Math.min(step, O - o0);
          wasm.im2col(pCol * 4, pX * 4, geometry, o0, o0 + width);
          wasm.gemm(0, 0, C, width, CK, 1, pW * 4, CK, pCol * 4, width, accumulate ? 1 : 0, (pY + o0) * 4, O, work);
        }
        y.set(h.subarray(pY, pY + C * O), n * C * O);
      }
    },
    backData(dx, dy, w, g, batch, accumulate) {
      const [CK, O, C, X, step] = [g.cin * g.kernelVolume, g.outVolume, g.cout, g.cin * g.inVolume, chunkWidth(g)];
      const [pW, pDy, pCol, pDx, end] = regions(base, C * CK, C * O, CK * step, X);
      const h = reserve(end, g);
      h.set(w.subarray(0, C * CK), pW);
      for (let n = 0; n < batch; n++) {
        h.set(dy.subarray(n * C * O, (n + 1) * C * O), pDy);
        if (accumulate) h.set(dx.subarray(n * X, n * X + X), pDx);
        else h.fill(0, pDx, pDx + X);
        for (let o0 = 0; o0 < O; o0 += step) {
          const width = Math.min(step, O - o0);
          wasm.gemm(1, 0, CK, width, C, 1, pW * 4, CK, (pDy + o0) * 4, O, 0, pCol * 4, width, work);
          wasm.col2im(pDx * 4, pCol * 4, geometry, o0, o0 + width);
        }
        dx.set(h.subarray(pDx, pDx + X), n * X);
      }
    },
    backFilter(dw, x, dy, g, batch, accumulate) {
      const [CK, O, C, X, step] = [g.cin * g.kernelVolume, g.outVolume, g.cout, g.cin * g.inVolume, chunkWidth(g)];
      const [pX, pDy, pCol, pT, end] = regions(base, X, C * O, CK * step, CK * C);
      const h = reserve(end, g);
      h.fill(0, pT, pT + CK * C);
      for (let n = 0; n < batch; n++) {
        h.set(x.subarray(n * X, n * X + X), pX);
        h.set(dy.subarray(n * C * O, (n + 1) * C * O), pDy);
        for (let o0 = 0; o0 < O; o0 += step) {
          const width = Math.min(step, O - o0);
          wasm.im2col(pCol * 4, pX * 4, geometry, o0, o0 + width);
          wasm.gemm(0, 1, CK, C, width, 1, pCol * 4, width, (pDy + o0) * 4, O, 1, pT * 4, C, work);
        }
      }
      // dWᵀ (CK × Cout) accumulated in wasm memory, transposed out as convBackFilter does.
      for (let o = 0; o < C; o++) {
        for (let k = 0; k < CK; k++) dw[o * CK + k] = (accumulate ? dw[o * CK + k] : 0) + h[pT + k * C + o];
      }
    },
  };

  // float32 only: a float64 array would round silently through wasm memory.
  const f32 = (where: string, ...a: FloatArray[]) => {
    if (!a.every((v) => v instanceof Float32Array)) throw new TypeError(`${where} (wasm): float32 arrays only`);
  };
  const lowering: Lowering = {
    im2col(col, x, xOff, g, o0, o1) {
      f32('im2col', col, x);
      const [X, len] = [g.cin * g.inVolume, g.cin * g.kernelVolume * (o1 - o0)];
      const [pX, pCol, end] = regions(base, X, len);
      const h = reserve(end, g);
      h.set(x.subarray(xOff, xOff + X), pX);
      wasm.im2col(pCol * 4, pX * 4, geometry, o0, o1);
      col.set(h.subarray(pCol, pCol + len));
    },
    col2im(dx, dxOff, col, g, o0, o1) {
      f32('col2im', dx, col);
      const [X, len] = [g.cin * g.inVolume, g.cin * g.kernelVolume * (o1 - o0)];
      const [pDx, pCol, end] = regions(base, X, len);
      const h = reserve(end, g);
      h.set(dx.subarray(dxOff, dxOff + X), pDx);
      h.set(col.subarray(0, len), pCol);
      wasm.col2im(pDx * 4, pCol * 4, geometry, o0, o1);
      dx.set(h.subarray(pDx, pDx + X), dxOff);
    },
  };
  return { gemm, passes, lowering };
}

/** The GEMM alone. */
export function loadWasmGemm(bytes?: BufferSource): GemmFn {
  return loadWasmKernels(bytes).gemm;
}
