/**
 * Convolution on the CPU, every rank through one lifted 3-D geometry, lowered to GEMM:
 * col[(c,a), i] = x[c, i·s + a·d − p] (zero outside), so that per sample
 *   forward        y   = W · col                  (Cout × CK)(CK × O)
 *   backward data  dx  = col2im(Wᵀ · dy)          the adjoint of im2col scatters back
 *   backward filter dW += dy · colᵀ               dE/dω_a = Σ_i δ_i · y_(i·s + a·d − p)
 * with CK = Cin·Πkernel and O = Πoutput.
 */
import type { FloatArray } from '../../dtype';
import type { ConvGeometry } from '../../geometry';
import type { GemmFn } from './gemm';

/*
 * Valid output index range [lo, hi) along one axis for a kernel tap at offset off = a·d − p:
 * 0 ≤ i·s + off ≤ n − 1. Kept in int32 arithmetic (`| 0`): a range bound that V8 sees as a
 * double (Math.ceil / Math.floor results) makes every index in the copy loops a double and
 * their element accesses take the slow path, 5–40 ns per element instead of about 1.
 */
function rangeLo(s: number, off: number): number {
  return off >= 0 ? 0 : ((s - 1 - off) / s) | 0;
}
function rangeHi(n: number, o: number, s: number, off: number, lo: number): number {
  const last = n - 1 - off;
  if (last < 0) return lo;
  const hi = ((last / s) | 0) + 1;
  return hi < lo ? lo : hi > o ? o : hi;
}

/** col (CK × O) ← im2col of one sample x (Cin × Πin) starting at xOff. */
export function im2col(col: FloatArray, x: FloatArray, xOff: number, g: ConvGeometry): void {
  const [D, H, W] = g.in3;
  const [kD, kH, kW] = g.k3;
  const [sD, sH, sW] = g.s3;
  const [pD, pH, pW] = g.p3;
  const [dD, dH, dW] = g.d3;
  const [oD, oH, oW] = g.o3;
  const O = oD * oH * oW;
  let row = 0;
  for (let c = 0; c < g.cin; c++) {
    const xc = xOff + c * D * H * W;
    for (let kd = 0; kd < kD; kd++) {
      const d0 = rangeLo(sD, kd * dD - pD);
      const d1 = rangeHi(D, oD, sD, kd * dD - pD, d0);
      for (let kh = 0; kh < kH; kh++) {
        const h0 = rangeLo(sH, kh * dH - pH);
        const h1 = rangeHi(H, oH, sH, kh * dH - pH, h0);
        for (let kw = 0; kw < kW; kw++, row++) {
          const w0 = rangeLo(sW, kw * dW - pW);
          const w1 = rangeHi(W, oW, sW, kw * dW - pW, w0);
          const r = row * O;
          // Only taps that reach into the padding leave zeros behind.
          if (d1 - d0 < oD || h1 - h0 < oH || w1 - w0 < oW) col.fill(0, r, r + O);
          for (let od = d0; od < d1; od++) {
            const id = od * sD + kd * dD - pD;
            for (let oh = h0; oh < h1; oh++) {
              const ih = oh * sH + kh * dH - pH;
              const src = xc + (id * H + ih) * W - pW + kw * dW;
              const dst = r + (od * oH + oh) * oW;
              if (sW === 1) for (let ow = w0; ow < w1; ow++) col[dst + ow] = x[src + ow];
              else for (let ow = w0; ow < w1; ow++) col[dst + ow] = x[src + ow * sW];
            }
          }
        }
      }
    }
  }
}

/** dx (Cin × Πin, at dxOff) += col2im(col): the exact adjoint of im2col. */
export function col2im(dx: FloatArray, dxOff: number, col: FloatArray, g: ConvGeometry): void {
  const [D, H, W] = g.in3;
  const [kD, kH, kW] = g.k3;
  const [sD, sH, sW] = g.s3;
  const [pD, pH, pW] = g.p3;
  const [dD, dH, dW] = g.d3;
  const [oD, oH, oW] = g.o3;
  const O = oD * oH * oW;
  let row = 0;
  for (let c = 0; c < g.cin; c++) {
    const xc = dxOff + c * D * H * W;
    for (let kd = 0; kd < kD; kd++) {
      const d0 = rangeLo(sD, kd * dD - pD);
      const d1 = rangeHi(D, oD, sD, kd * dD - pD, d0);
      for (let kh = 0; kh < kH; kh++) {
        const h0 = rangeLo(sH, kh * dH - pH);
        const h1 = rangeHi(H, oH, sH, kh * dH - pH, h0);
        for (let kw = 0; kw < kW; kw++, row++) {
          const w0 = rangeLo(sW, kw * dW - pW);
          const w1 = rangeHi(W, oW, sW, kw * dW - pW, w0);
          const r = row * O;
          for (let od = d0; od < d1; od++) {
            const id = od * sD + kd * dD - pD;
            for (let oh = h0; oh < h1; oh++) {
              const ih = oh * sH + kh * dH - pH;
              const dst = xc + (id * H + ih) * W - pW + kw * dW;
              const src = r + (od * oH + oh) * oW;
              if (sW === 1) for (let ow = w0; ow < w1; ow++) dx[dst + ow] += col[src + ow];
              else for (let ow = w0; ow < w1; ow++) dx[dst + ow * sW] += col[src + ow];
            }
          }
        }
      }
    }
  }
}

/** Scratch for the column matrix, grown on demand and reused: no allocation per call. */
export class ColBuffer {
  private buf: FloatArray;
  constructor(private readonly make: (n: number) => FloatArray) {
    this.buf = make(0);
  }
  get(n: number): FloatArray {
    if (this.buf.length < n) this.buf = this.make(n);
    return this.buf;
  }
}

export function convForward(
  gemm: GemmFn, scratch: ColBuffer, y: FloatArray, x: FloatArray, w: FloatArray, g: ConvGeometry,
  batch: number, accumulate: boolean,
): void {
  const CK = g.cin * g.kernelVolume;
  const O = g.outVolume;
  const col = scratch.get(CK * O);
  for (let n = 0; n < batch; n++) {
    im2col(col, x, n * g.cin * g.inVolume, g);
    gemm(false, false, g.cout, O, CK, 1, w, 0, CK, col, 0, O, accumulate ? 1 : 0, y, n * g.cout * O, O);
  }
}

export function convBackData(
  gemm: GemmFn, scratch: ColBuffer, dx: FloatArray, dy: FloatArray, w: FloatArray, g: ConvGeometry,
  batch: number, accumulate: boolean,
): void {
  const CK = g.cin * g.kernelVolume;
  const O = g.outVolume;
  const col = scratch.get(CK * O);
  if (!accumulate) dx.fill(0);
  for (let n = 0; n < batch; n++) {
    gemm(true, false, CK, O, g.cout, 1, w, 0, CK, dy, n * g.cout * O, O, 0, col, 0, O);
    col2im(dx, n * g.cin * g.inVolume, col, g);
  }
}

export function convBackFilter(
  gemm: GemmFn, scratch: ColBuffer, dw: FloatArray, x: FloatArray, dy: FloatArray, g: ConvGeometry,
  batch: number, accumulate: boolean,
): void {
  const CK = g.cin * g.kernelVolume;
  const O = g.outVolume;
  const col = scratch.get(CK * O);
  for (let n = 0; n < batch; n++) {
    im2col(col, x, n * g.cin * g.inVolume, g);
    const beta = n > 0 || accumulate ? 1 : 0;
    gemm(false, true, g.cout, CK, O, 1, dy, n * g.cout * O, O, col, 0, O, beta, dw, 0, CK);
  }
  if (batch === 0 && !accumulate) dw.fill(0);
}
