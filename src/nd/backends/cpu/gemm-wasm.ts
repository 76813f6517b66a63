/**
 * The WebAssembly SIMD GEMM (asm/gemm.ts, compiled by `npm run build:wasm` to
 * asm/build/gemm.wasm) behind the GemmFn signature. float32 only: wasm SIMD has no f64 lane
 * count worth having (2 per v128), so float64 calls go to the JS kernel.
 *
 * The kernel works on its own linear memory, so each call copies the spans of A, B (and C when
 * its old contents matter) in and C out: 4·(|A| + |B| + 2|C|) bytes against 2·M·N·K flops.
 * For im2col shapes (K ≥ 25) that is under 3 % of the multiply; bench/gemm.ts measures it.
 */
import { readFileSync } from 'node:fs';
import type { FloatArray } from '../../dtype.js';
import { gemmJs, type GemmFn } from './gemm.js';

interface GemmExports {
  memory: WebAssembly.Memory;
  workBytes(): number;
  gemm(
    ta: number, tb: number, M: number, N: number, K: number, alpha: number,
    pA: number, lda: number, pB: number, ldb: number, beta: number, pC: number, ldc: number, pWork: number,
  ): void;
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

/** Instantiates the module synchronously (Node compiles a module of any size off the main thread's limit). */
export function loadWasmGemm(bytes: BufferSource = new Uint8Array(readFileSync(WASM_PATH))): GemmFn {
  const instance = new WebAssembly.Instance(new WebAssembly.Module(bytes), {
    env: { abort: () => { throw new Error('gemm (wasm): abort'); } },
  });
  const wasm = instance.exports as unknown as GemmExports;
  // Layout: [first page: the module's statics][work][A][B][C], grown on demand.
  const work = 65536;
  const dataStart = work + wasm.workBytes();
  let heap = new Float32Array(wasm.memory.buffer);

  function reserve(bytes: number): void {
    const need = dataStart + bytes - wasm.memory.buffer.byteLength;
    if (need > 0) wasm.memory.grow(Math.ceil(need / 65536));
    if (heap.buffer !== wasm.memory.buffer) heap = new Float32Array(wasm.memory.buffer);
  }

  return (ta, tb, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc) => {
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
    // 16-byte aligned regions, in floats.
    const a0 = dataStart / 4;
    const b0 = a0 + ((aLen + 3) & ~3);
    const c0 = b0 + ((bLen + 3) & ~3);
    reserve((c0 - a0 + cLen) * 4);
    heap.set(A.subarray(aOff, aOff + aLen), a0);
    heap.set(B.subarray(bOff, bOff + bLen), b0);
    // C comes back whole, gaps between rows included, so it goes in whole unless every
    // element is about to be overwritten (beta = 0 and no gaps).
    if (beta !== 0 || ldc !== N) heap.set(C.subarray(cOff, cOff + cLen), c0);
    wasm.gemm(+ta, +tb, M, N, K, alpha, a0 * 4, lda, b0 * 4, ldb, beta, c0 * 4, ldc, work);
    C.set(heap.subarray(c0, c0 + cLen), cOff);
  };
}
