/**
 * Row-major GEMM on typed arrays with offsets and leading dimensions, BLAS-style:
 * C[M×N] = alpha · op(A)[M×K] · op(B)[K×N] + beta · C.
 * This is the pure-JS path, the last resort behind OpenBLAS and WebAssembly SIMD
 * (gemm-select.ts picks one). Convolution lowers to GEMM through im2col, so its speed is the
 * CPU backend's speed.
 *
 * Blocking as in Goto & van de Geijn: a KC×NC slice of op(B) is packed into NR-wide panels and
 * an MC×KC block of alpha·op(A) into MR-tall panels, both k-major, so the 4×4 register tile
 * below reads two unit-stride streams whatever the transposes were. The sixteen partial sums
 * live in locals (doubles, whatever the storage type) for a whole KC slice, so each element of
 * C is loaded and stored once per slice instead of once per k.
 */
import type { FloatArray } from '../../dtype.js';

export type GemmFn = (
  transA: boolean, transB: boolean, M: number, N: number, K: number, alpha: number,
  A: FloatArray, aOff: number, lda: number,
  B: FloatArray, bOff: number, ldb: number,
  beta: number, C: FloatArray, cOff: number, ldc: number,
) => void;

const MR = 4;
const NR = 4;
const MC = 64;
const KC = 256;
const NC = 512;

// Packed blocks, reused by every call: the hot path allocates nothing.
const packedA = new Float64Array(MC * KC);
const packedB = new Float64Array(KC * NC);
const edgeTile = new Float64Array(MR * NR);

/** C ← beta · C on the M×N block; beta = 0 overwrites, so NaNs in a fresh C do not survive. */
function scaleC(M: number, N: number, beta: number, C: FloatArray, cOff: number, ldc: number): void {
  if (beta === 1) return;
  for (let i = 0; i < M; i++) {
    const ci = cOff + i * ldc;
    if (beta === 0) C.fill(0, ci, ci + N);
    else for (let j = 0; j < N; j++) C[ci + j] *= beta;
  }
}

/** packedB ← op(B)[p0 : p0+kc, j0 : j0+nc] as NR-wide panels (kc×NR each), zero-padded. */
function packB(tb: boolean, kc: number, nc: number, B: FloatArray, bOff: number, ldb: number, p0: number, j0: number): void {
  // Element (k, j) of op(B) sits at bOff + k·sk + j·sj.
  const sk = tb ? 1 : ldb;
  const sj = tb ? ldb : 1;
  for (let jp = 0; jp < nc; jp += NR) {
    const w = Math.min(NR, nc - jp);
    let dst = jp * kc;
    for (let k = 0; k < kc; k++, dst += NR) {
      const src = bOff + (p0 + k) * sk + (j0 + jp) * sj;
      for (let jj = 0; jj < NR; jj++) packedB[dst + jj] = jj < w ? B[src + jj * sj] : 0;
    }
  }
}

/** packedA ← alpha · op(A)[i0 : i0+mc, p0 : p0+kc] as MR-tall panels (kc×MR each), zero-padded. */
function packA(ta: boolean, mc: number, kc: number, alpha: number, A: FloatArray, aOff: number, lda: number, i0: number, p0: number): void {
  // Element (i, k) of op(A) sits at aOff + i·si + k·sk.
  const si = ta ? 1 : lda;
  const sk = ta ? lda : 1;
  for (let ip = 0; ip < mc; ip += MR) {
    const h = Math.min(MR, mc - ip);
    let dst = ip * kc;
    for (let k = 0; k < kc; k++, dst += MR) {
      const src = aOff + (i0 + ip) * si + (p0 + k) * sk;
      for (let ii = 0; ii < MR; ii++) packedA[dst + ii] = ii < h ? alpha * A[src + ii * si] : 0;
    }
  }
}

/** C[mr×nr tile at c] += Σ_k a[:,k] ⊗ b[k,:] over packed panels starting at pa and pb. */
function kernel(kc: number, pa: number, pb: number, C: FloatArray, c: number, ldc: number, mr: number, nr: number): void {
  const a = packedA;
  const b = packedB;
  let c00 = 0, c01 = 0, c02 = 0, c03 = 0;
  let c10 = 0, c11 = 0, c12 = 0, c13 = 0;
  let c20 = 0, c21 = 0, c22 = 0, c23 = 0;
  let c30 = 0, c31 = 0, c32 = 0, c33 = 0;
  for (let k = 0; k < kc; k++, pa += MR, pb += NR) {
    const b0 = b[pb], b1 = b[pb + 1], b2 = b[pb + 2], b3 = b[pb + 3];
    const a0 = a[pa], a1 = a[pa + 1], a2 = a[pa + 2], a3 = a[pa + 3];
    c00 += a0 * b0; c01 += a0 * b1; c02 += a0 * b2; c03 += a0 * b3;
    c10 += a1 * b0; c11 += a1 * b1; c12 += a1 * b2; c13 += a1 * b3;
    c20 += a2 * b0; c21 += a2 * b1; c22 += a2 * b2; c23 += a2 * b3;
    c30 += a3 * b0; c31 += a3 * b1; c32 += a3 * b2; c33 += a3 * b3;
  }
  if (mr === MR && nr === NR) {
    C[c] += c00; C[c + 1] += c01; C[c + 2] += c02; C[c + 3] += c03;
    c += ldc;
    C[c] += c10; C[c + 1] += c11; C[c + 2] += c12; C[c + 3] += c13;
    c += ldc;
    C[c] += c20; C[c + 1] += c21; C[c + 2] += c22; C[c + 3] += c23;
    c += ldc;
    C[c] += c30; C[c + 1] += c31; C[c + 2] += c32; C[c + 3] += c33;
    return;
  }
  // A partial tile at the right or bottom edge: only the mr×nr corner exists in C.
  const t = edgeTile;
  t[0] = c00; t[1] = c01; t[2] = c02; t[3] = c03;
  t[4] = c10; t[5] = c11; t[6] = c12; t[7] = c13;
  t[8] = c20; t[9] = c21; t[10] = c22; t[11] = c23;
  t[12] = c30; t[13] = c31; t[14] = c32; t[15] = c33;
  for (let i = 0; i < mr; i++, c += ldc) for (let j = 0; j < nr; j++) C[c + j] += t[i * NR + j];
}

export const gemmJs: GemmFn = (transA, transB, M, N, K, alpha, A, aOff, lda, B, bOff, ldb, beta, C, cOff, ldc) => {
  scaleC(M, N, beta, C, cOff, ldc);
  if (alpha === 0 || K === 0) return;
  for (let j0 = 0; j0 < N; j0 += NC) {
    const nc = Math.min(NC, N - j0);
    for (let p0 = 0; p0 < K; p0 += KC) {
      const kc = Math.min(KC, K - p0);
      packB(transB, kc, nc, B, bOff, ldb, p0, j0);
      for (let i0 = 0; i0 < M; i0 += MC) {
        const mc = Math.min(MC, M - i0);
        packA(transA, mc, kc, alpha, A, aOff, lda, i0, p0);
        for (let jr = 0; jr < nc; jr += NR) {
          const nr = Math.min(NR, nc - jr);
          for (let ir = 0; ir < mc; ir += MR) {
            kernel(kc, ir * kc, jr * kc, C, cOff + (i0 + ir) * ldc + j0 + jr, ldc, Math.min(MR, mc - ir), nr);
          }
        }
      }
    }
  }
};
