/**
 * The convolution lowering inside wasm memory (AssemblyScript), so the wasm GEMM reads the
 * column matrix where it was written: no JS im2col and no copy of the column matrix.
 * Same definition and walk as src/nd/backends/cpu/conv.ts (the JS lowering), bit for bit:
 *   col[(c,a), i − o0] = x[c, i·s + a·d − p] (zero outside) for output columns i in [o0, o1).
 * Geometry at pG: 19 i32 — cin, in3, k3, s3, p3, d3, o3 (every rank lifted to 3-D).
 */

// First valid output index along an axis for a tap at offset off = a·d − p (i·s + off ≥ 0).
function rangeLo(s: i32, off: i32): i32 {
  return off >= 0 ? 0 : (s - 1 - off) / s;
}

// One past the last valid output index (i·s + off ≤ n − 1), clamped to [lo, o].
function rangeHi(n: i32, o: i32, s: i32, off: i32, lo: i32): i32 {
  const last = n - 1 - off;
  if (last < 0) return lo;
  const hi = last / s + 1;
  return hi < lo ? lo : hi > o ? o : hi;
}

// @ts-ignore: decorator
@inline
function geo(pG: usize, i: i32): i32 {
  return load<i32>(pG + (<usize>i << 2));
}

/*
 * Visits every row (c, tap) of col and every output line that meets [o0, o1), as the JS walk:
 * the valid run col[colStart + ow] ↔ x[xStart + ow·sW], ow in [a, b). im2col (adjoint = false)
 * zero-fills rows whose tap reaches into the padding, then copies; col2im adds col into x.
 */
function walk(pX: usize, pCol: usize, pG: usize, o0: i32, o1: i32, adjoint: bool): void {
  const cin = geo(pG, 0);
  const D = geo(pG, 1), H = geo(pG, 2), W = geo(pG, 3);
  const kD = geo(pG, 4), kH = geo(pG, 5), kW = geo(pG, 6);
  const sD = geo(pG, 7), sH = geo(pG, 8), sW = geo(pG, 9);
  const pD = geo(pG, 10), pH = geo(pG, 11), pW = geo(pG, 12);
  const dD = geo(pG, 13), dH = geo(pG, 14), dW = geo(pG, 15);
  const oD = geo(pG, 16), oH = geo(pG, 17), oW = geo(pG, 18);
  const width = o1 - o0;
  const q0 = o0 / oW;
  const q1 = (o1 - 1) / oW + 1;
  let row = 0;
  for (let c = 0; c < cin; c++) {
    const xc = c * D * H * W;
    for (let kd = 0; kd < kD; kd++) {
      const d0 = rangeLo(sD, kd * dD - pD);
      const d1 = rangeHi(D, oD, sD, kd * dD - pD, d0);
      for (let kh = 0; kh < kH; kh++) {
        const h0 = rangeLo(sH, kh * dH - pH);
        const h1 = rangeHi(H, oH, sH, kh * dH - pH, h0);
        for (let kw = 0; kw < kW; kw++, row++) {
          const w0 = rangeLo(sW, kw * dW - pW);
          const w1 = rangeHi(W, oW, sW, kw * dW - pW, w0);
          const r = row * width;
          if (!adjoint && (d1 - d0 < oD || h1 - h0 < oH || w1 - w0 < oW)) {
            memory.fill(pCol + (<usize>r << 2), 0, <usize>width << 2);
          }
          for (let q = q0; q < q1; q++) {
            const od = q / oH;
            const oh = q - od * oH;
            if (od < d0 || od >= d1 || oh < h0 || oh >= h1) continue;
            const line = q * oW;
            const a = max(o0 - line, w0);
            const b = min(o1 - line, w1);
            if (a >= b) continue;
            const id = od * sD + kd * dD - pD;
            const ih = oh * sH + kh * dH - pH;
            const pc = pCol + (<usize>(r + line - o0) << 2);
            const px = pX + (<usize>(xc + (id * H + ih) * W - pW + kw * dW) << 2);
            run(pc, px, a, b, sW, adjoint);
          }
        }
      }
    }
  }
}

// col[ow] = x[ow·sW] (im2col) or x[ow·sW] += col[ow] (col2im) for ow in [a, b); pc, px at ow = 0.
// @ts-ignore: decorator
@inline
function run(pc: usize, px: usize, a: i32, b: i32, sW: i32, adjoint: bool): void {
  if (!adjoint) {
    if (sW == 1) {
      memory.copy(pc + (<usize>a << 2), px + (<usize>a << 2), <usize>(b - a) << 2);
    } else {
      for (let ow = a; ow < b; ow++) store<f32>(pc + (<usize>ow << 2), load<f32>(px + (<usize>(ow * sW) << 2)));
    }
    return;
  }
  let ow = a;
  if (sW == 1) {
    for (; ow + 4 <= b; ow += 4) {
      const p = px + (<usize>ow << 2);
      v128.store(p, f32x4.add(v128.load(p), v128.load(pc + (<usize>ow << 2))));
    }
  }
  for (; ow < b; ow++) {
    const p = px + (<usize>(ow * sW) << 2);
    store<f32>(p, load<f32>(p) + load<f32>(pc + (<usize>ow << 2)));
  }
}

/** col (CK × (o1 − o0), at pCol) ← columns [o0, o1) of the im2col of one sample at pX. */
export function im2col(pCol: usize, pX: usize, pG: usize, o0: i32, o1: i32): void {
  walk(pX, pCol, pG, o0, o1, false);
}

/** dx (one sample, at pDx) += col2im(col) for columns [o0, o1): the adjoint of im2col. */
export function col2im(pDx: usize, pCol: usize, pG: usize, o0: i32, o1: i32): void {
  walk(pDx, pCol, pG, o0, o1, true);
}
