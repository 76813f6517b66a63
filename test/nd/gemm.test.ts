/**
 * Every GEMM path (blocked JS, WebAssembly SIMD, OpenBLAS) against a naive triple loop in
 * float64, over all four transpose combinations, odd sizes, sizes that cross the kernels' block
 * edges (JS: MC 64, KC 256, NC 512; wasm: MC 128, KC 256, NC 1024), offsets, leading dimensions
 * wider than the rows, and alpha/beta including beta = 0 over NaN.
 */
import { describe, expect, it } from 'vitest';
import { allocate, type DType, type FloatArray } from '../../src/nd/dtype.js';
import type { GemmFn } from '../../src/nd/backends/cpu/gemm.js';
import { chooseGemm, loadGemm, type GemmImpl } from '../../src/nd/backends/cpu/gemm-select.js';
import { createBackend } from '../../src/nd/backends/index.js';
import { Rng } from '../../src/nd/rng.js';

/** The reference: C = alpha·op(A)·op(B) + beta·C summed in float64, plus Σ|terms| for the bound. */
function reference(
  ta: boolean, tb: boolean, M: number, N: number, K: number, alpha: number,
  A: FloatArray, aOff: number, lda: number, B: FloatArray, bOff: number, ldb: number,
  beta: number, C: FloatArray, cOff: number, ldc: number,
): { value: Float64Array; magnitude: Float64Array } {
  const value = Float64Array.from(C);
  const magnitude = new Float64Array(C.length);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      let m = 0;
      for (let k = 0; k < K; k++) {
        const p = (ta ? A[aOff + k * lda + i] : A[aOff + i * lda + k]) * (tb ? B[bOff + j * ldb + k] : B[bOff + k * ldb + j]);
        s += p;
        m += Math.abs(p);
      }
      const c = cOff + i * ldc + j;
      const old = beta === 0 ? 0 : beta * C[c];
      value[c] = alpha * s + old;
      magnitude[c] = Math.abs(alpha) * m + Math.abs(old);
    }
  }
  return { value, magnitude };
}

function filled(dtype: DType, n: number, rng: Rng): FloatArray {
  const a = allocate(dtype, n);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return a;
}

const UNIT_ROUNDOFF: Record<DType, number> = { float32: 2 ** -24, float64: 2 ** -53 };

interface Case { M: number; N: number; K: number; alpha: number; beta: number; pad: number }
const CASES: Case[] = [
  { M: 1, N: 1, K: 1, alpha: 1, beta: 0, pad: 0 },
  { M: 5, N: 7, K: 3, alpha: 1, beta: 1, pad: 2 },
  { M: 13, N: 6, K: 17, alpha: -0.5, beta: 0.25, pad: 1 },
  { M: 3, N: 11, K: 0, alpha: 1, beta: 0.5, pad: 3 },
  // Cross the blocking edges of both kernels with ragged tails, one axis at a time to stay fast:
  // M > 128 and N > 1024, then K > 256.
  { M: 131, N: 1031, K: 3, alpha: 0.75, beta: -1, pad: 5 },
  { M: 6, N: 9, K: 263, alpha: 2, beta: 0, pad: 1 },
  { M: 67, N: 21, K: 30, alpha: 1, beta: 1, pad: 0 },
];

function check(gemm: GemmFn, dtype: DType, ta: boolean, tb: boolean, c: Case, seed: number): void {
  const rng = new Rng(seed);
  const { M, N, K, alpha, beta, pad } = c;
  const [aRows, aCols] = ta ? [K, M] : [M, K];
  const [bRows, bCols] = tb ? [N, K] : [K, N];
  const lda = aCols + pad;
  const ldb = bCols + pad;
  const ldc = N + pad;
  const aOff = 3;
  const bOff = 1;
  const cOff = 2;
  const A = filled(dtype, aOff + aRows * lda, rng);
  const B = filled(dtype, bOff + bRows * ldb, rng);
  const C = filled(dtype, cOff + M * ldc + 4, rng);
  if (beta === 0) for (let i = 0; i < M; i++) C[cOff + i * ldc] = NaN; // beta = 0 must ignore old C
  const { value, magnitude } = reference(ta, tb, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc);
  gemm(ta, tb, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc);
  // Higham's bound for a dot product of length K summed in working precision u:
  // |ĉ − c| ≤ γ_(K+2)·(|α|·Σ|a||b| + |β c|), γ_n ≈ n·u; the +2 covers the alpha/beta update and the
  // final rounding to storage. It is a worst case, so no correct kernel exceeds it, while a wrong
  // index or a missed term errs by O(|c|), far above it.
  const gamma = (K + 2) * UNIT_ROUNDOFF[dtype];
  let worst = 0;
  for (let i = 0; i < C.length; i++) {
    const err = Math.abs(C[i] - value[i]) - gamma * magnitude[i];
    const inside = i >= cOff && (i - cOff) % ldc < N && i < cOff + M * ldc;
    // Outside op(C)'s M×N block (offset, row gaps, tail) nothing may change at all.
    if (!inside) expect(C[i], `element ${i} outside C's block was written`).toBe(value[i]);
    else worst = Math.max(worst, err);
  }
  expect(worst, `${dtype} ${ta ? 'Aᵀ' : 'A'}·${tb ? 'Bᵀ' : 'B'} M=${M} N=${N} K=${K}`).toBeLessThanOrEqual(0);
}

function available(impl: GemmImpl): GemmFn | undefined {
  try {
    return loadGemm(impl);
  } catch (e) {
    console.warn(`gemm tests: ${impl} skipped, it does not load here: ${(e as Error).message.split('\n')[0]}`);
    return undefined;
  }
}

const IMPLS: GemmImpl[] = ['js', 'wasm-simd', 'openblas'];
const DTYPES: DType[] = ['float32', 'float64'];
const TRANSPOSES: [boolean, boolean][] = [[false, false], [true, false], [false, true], [true, true]];

describe.each(IMPLS)('gemm %s', (impl) => {
  const gemm = available(impl);
  describe.skipIf(gemm === undefined).each(DTYPES)('%s', (dtype) => {
    it.each(TRANSPOSES)('transA=%s transB=%s matches the float64 triple loop', (ta, tb) => {
      CASES.forEach((c, i) => check(gemm!, dtype, ta, tb, c, 100 * i + (ta ? 2 : 0) + (tb ? 1 : 0)));
    });
  });

  // The JS path reads undefined → NaN past the end, as any typed-array code, so only the paths
  // that touch raw memory need the check.
  if (impl !== 'js') it.skipIf(gemm === undefined)('rejects operands too short for their shape instead of reading past them', () => {
    const A = new Float32Array(5);
    const B = new Float32Array(6);
    const C = new Float32Array(4);
    expect(() => gemm!(false, false, 2, 2, 3, 1, A, 0, 3, B, 0, 2, 0, C, 0, 2)).toThrow(/A .*cannot hold/);
  });
});

describe('gemm selection', () => {
  it('a named implementation is chosen without touching the environment, and the info says so', () => {
    for (const [value, impl] of [['js', 'js'], ['wasm', 'wasm-simd']] as const) {
      const info = chooseGemm(value, 'NDCNN_GEMM').info;
      expect(info.impl).toBe(impl);
      expect(info.reason).toContain(`NDCNN_GEMM=${value}`);
    }
    expect(chooseGemm('wasm').info.float64).toBe('js');
  });

  it('an unknown name fails loudly, naming it and where it came from', () => {
    expect(() => chooseGemm('cublas', 'NDCNN_GEMM')).toThrow(/NDCNN_GEMM=cublas: expected one of openblas, wasm/);
  });

  it('createBackend passes the choice to the CPU backend', () => {
    expect(createBackend('cpu', { gemm: 'js' }).describe()).toMatch(/gemm js/);
    expect(() => createBackend('cpu', { gemm: 'cublas' })).toThrow(/cublas/);
  });
});
