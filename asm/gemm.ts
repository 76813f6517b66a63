/**
 * Single-precision GEMM for WebAssembly SIMD (AssemblyScript), on raw linear memory:
 * C[M×N] = alpha · op(A)[M×K] · op(B)[K×N] + beta · C, row-major, offsets folded into the
 * byte addresses pA, pB, pC by the caller (src/nd/backends/cpu/gemm-wasm.ts).
 *
 * Goto-style blocking: for each NC-wide column block and KC-deep slice of K, op(B) is packed
 * into NR-wide panels (each KC×NR panel is 8 KiB, L1-resident); for each MC-tall row block
 * op(A)·alpha is packed into MR-tall panels; a 4×8 register tile then accumulates
 * Σ_k a[i,k]·b[k,j] in eight f32x4 registers. Packing also absorbs both transposes, so the
 * micro-kernel only ever streams unit-stride data. Edges are zero-padded in the packs and
 * the partial tile is written through a small scratch tile.
 */

const MR: i32 = 4;
const NR: i32 = 8;
const MC: i32 = 128;
const KC: i32 = 256;
const NC: i32 = 1024;

/** Bytes of scratch the caller reserves at pWork: packed A block, packed B block, edge tile. */
export function workBytes(): i32 {
  return (MC * KC + KC * NC + MR * NR) << 2;
}

// C ← beta · C on the M×N block (beta = 0 overwrites, so NaNs in a fresh C do not survive).
function scaleC(M: i32, N: i32, beta: f32, pC: usize, ldc: i32): void {
  if (beta == 1) return;
  const vb = f32x4.splat(beta);
  for (let i = 0; i < M; i++) {
    const row = pC + (<usize>(i * ldc) << 2);
    let j = 0;
    if (beta == 0) {
      for (; j + 4 <= N; j += 4) v128.store(row + (<usize>j << 2), f32x4.splat(0));
      for (; j < N; j++) store<f32>(row + (<usize>j << 2), 0);
    } else {
      for (; j + 4 <= N; j += 4) {
        const p = row + (<usize>j << 2);
        v128.store(p, f32x4.mul(v128.load(p), vb));
      }
      for (; j < N; j++) {
        const p = row + (<usize>j << 2);
        store<f32>(p, load<f32>(p) * beta);
      }
    }
  }
}

// dst ← op(B)[p0 : p0+kc, j0 : j0+nc] as NR-wide panels, each kc×NR row-major, zero-padded.
function packB(tb: bool, kc: i32, nc: i32, pB: usize, ldb: i32, p0: i32, j0: i32, dst: usize): void {
  for (let jp = 0; jp < nc; jp += NR) {
    const w = min(NR, nc - jp);
    const panel = dst + (<usize>(jp * kc) << 2);
    for (let k = 0; k < kc; k++) {
      const out = panel + (<usize>(k * NR) << 2);
      if (!tb && w == NR) {
        const src = pB + (<usize>((p0 + k) * ldb + j0 + jp) << 2);
        v128.store(out, v128.load(src));
        v128.store(out, v128.load(src, 16), 16);
        continue;
      }
      for (let jj = 0; jj < NR; jj++) {
        let v: f32 = 0;
        if (jj < w) {
          const j = j0 + jp + jj;
          v = load<f32>(pB + (<usize>(tb ? j * ldb + p0 + k : (p0 + k) * ldb + j) << 2));
        }
        store<f32>(out + (<usize>jj << 2), v);
      }
    }
  }
}

// dst ← alpha · op(A)[i0 : i0+mc, p0 : p0+kc] as MR-tall panels, each kc×MR (k-major), zero-padded.
function packA(ta: bool, mc: i32, kc: i32, alpha: f32, pA: usize, lda: i32, i0: i32, p0: i32, dst: usize): void {
  for (let ip = 0; ip < mc; ip += MR) {
    const h = min(MR, mc - ip);
    const panel = dst + (<usize>(ip * kc) << 2);
    let k = 0;
    if (!ta && h == MR) {
      // Four rows of A, four k at a time, transposed in registers (the filter gradient's A is
      // the column block: packing it dominated that GEMM when done one float at a time).
      const va = f32x4.splat(alpha);
      const row = pA + (<usize>((i0 + ip) * lda + p0) << 2);
      const ld = <usize>lda << 2;
      for (; k + 4 <= kc; k += 4) {
        const p = row + (<usize>k << 2);
        const r0 = v128.load(p), r1 = v128.load(p + ld), r2 = v128.load(p + 2 * ld), r3 = v128.load(p + 3 * ld);
        const t0 = v128.shuffle<f32>(r0, r1, 0, 4, 1, 5), t1 = v128.shuffle<f32>(r0, r1, 2, 6, 3, 7);
        const t2 = v128.shuffle<f32>(r2, r3, 0, 4, 1, 5), t3 = v128.shuffle<f32>(r2, r3, 2, 6, 3, 7);
        const out = panel + (<usize>(k * MR) << 2);
        v128.store(out, f32x4.mul(va, v128.shuffle<f32>(t0, t2, 0, 1, 4, 5)));
        v128.store(out, f32x4.mul(va, v128.shuffle<f32>(t0, t2, 2, 3, 6, 7)), 16);
        v128.store(out, f32x4.mul(va, v128.shuffle<f32>(t1, t3, 0, 1, 4, 5)), 32);
        v128.store(out, f32x4.mul(va, v128.shuffle<f32>(t1, t3, 2, 3, 6, 7)), 48);
      }
    }
    for (; k < kc; k++) {
      const out = panel + (<usize>(k * MR) << 2);
      for (let ii = 0; ii < MR; ii++) {
        let v: f32 = 0;
        if (ii < h) {
          const i = i0 + ip + ii;
          v = alpha * load<f32>(pA + (<usize>(ta ? (p0 + k) * lda + i : i * lda + p0 + k) << 2));
        }
        store<f32>(out + (<usize>ii << 2), v);
      }
    }
  }
}

// C[MR×NR tile] += Σ_k a[:,k] ⊗ b[k,:]; a partial tile (mr < MR or nr < NR) goes through `edge`.
// @ts-ignore: decorator
@inline
function kernel(kc: i32, pa: usize, pb: usize, pC: usize, ldc: i32, mr: i32, nr: i32, edge: usize): void {
  let c00 = f32x4.splat(0), c01 = f32x4.splat(0);
  let c10 = f32x4.splat(0), c11 = f32x4.splat(0);
  let c20 = f32x4.splat(0), c21 = f32x4.splat(0);
  let c30 = f32x4.splat(0), c31 = f32x4.splat(0);
  for (let k = 0; k < kc; k++) {
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    let a = v128.load32_splat(pa);
    c00 = f32x4.add(c00, f32x4.mul(a, b0));
    c01 = f32x4.add(c01, f32x4.mul(a, b1));
    a = v128.load32_splat(pa, 4);
    c10 = f32x4.add(c10, f32x4.mul(a, b0));
    c11 = f32x4.add(c11, f32x4.mul(a, b1));
    a = v128.load32_splat(pa, 8);
    c20 = f32x4.add(c20, f32x4.mul(a, b0));
    c21 = f32x4.add(c21, f32x4.mul(a, b1));
    a = v128.load32_splat(pa, 12);
    c30 = f32x4.add(c30, f32x4.mul(a, b0));
    c31 = f32x4.add(c31, f32x4.mul(a, b1));
    pa += MR << 2;
    pb += NR << 2;
  }
  const full = mr == MR && nr == NR;
  const ld: usize = full ? <usize>ldc << 2 : <usize>NR << 2;
  let p = full ? pC : edge;
  if (!full) {
    for (let i = 0; i < MR * NR; i += 4) v128.store(edge + (<usize>i << 2), f32x4.splat(0));
  }
  v128.store(p, f32x4.add(v128.load(p), c00));
  v128.store(p, f32x4.add(v128.load(p, 16), c01), 16);
  p += ld;
  v128.store(p, f32x4.add(v128.load(p), c10));
  v128.store(p, f32x4.add(v128.load(p, 16), c11), 16);
  p += ld;
  v128.store(p, f32x4.add(v128.load(p), c20));
  v128.store(p, f32x4.add(v128.load(p, 16), c21), 16);
  p += ld;
  v128.store(p, f32x4.add(v128.load(p), c30));
  v128.store(p, f32x4.add(v128.load(p, 16), c31), 16);
  if (full) return;
  for (let i = 0; i < mr; i++) {
    for (let j = 0; j < nr; j++) {
      const dst = pC + (<usize>(i * ldc + j) << 2);
      store<f32>(dst, load<f32>(dst) + load<f32>(edge + (<usize>(i * NR + j) << 2)));
    }
  }
}

/** C = alpha · op(A) · op(B) + beta · C on f32 data at byte addresses pA, pB, pC. */
export function gemm(
  ta: bool, tb: bool, M: i32, N: i32, K: i32, alpha: f32,
  pA: usize, lda: i32, pB: usize, ldb: i32, beta: f32, pC: usize, ldc: i32, pWork: usize,
): void {
  scaleC(M, N, beta, pC, ldc);
  if (alpha == 0 || K == 0) return;
  const packedA = pWork;
  const packedB = packedA + (<usize>(MC * KC) << 2);
  const edge = packedB + (<usize>(KC * NC) << 2);
  for (let j0 = 0; j0 < N; j0 += NC) {
    const nc = min(NC, N - j0);
    for (let p0 = 0; p0 < K; p0 += KC) {
      const kc = min(KC, K - p0);
      packB(tb, kc, nc, pB, ldb, p0, j0, packedB);
      for (let i0 = 0; i0 < M; i0 += MC) {
        const mc = min(MC, M - i0);
        packA(ta, mc, kc, alpha, pA, lda, i0, p0, packedA);
        for (let jr = 0; jr < nc; jr += NR) {
          const pb = packedB + (<usize>(jr * kc) << 2);
          for (let ir = 0; ir < mc; ir += MR) {
            const pc = pC + (<usize>((i0 + ir) * ldc + j0 + jr) << 2);
            kernel(kc, packedA + (<usize>(ir * kc) << 2), pb, pc, ldc, min(MR, mc - ir), min(NR, nc - jr), edge);
          }
        }
      }
    }
  }
}

export { im2col, col2im } from './lowering';
