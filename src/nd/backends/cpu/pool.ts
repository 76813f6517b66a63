/** Max-pooling over a lifted 3-D geometry; argmax is the winner's offset in its (n, c) plane. */
import type { FloatArray } from '../../dtype.js';
import type { PoolGeometry } from '../../geometry.js';

/**
 * Per output, the taps are compared in row-major order against the running winner b:
 * b += [x[t] > x[b]]·(t − b) keeps the first of equal maxima (and a NaN only where it comes
 * first), as a comparison sequence would. Integer arithmetic instead of a branch: the winner flips
 * unpredictably on real data, and a mispredicted branch per tap cost ~3× the whole pass. y is x
 * at the winner, so it is exactly x there. The 2-D 2×2 window (LeNet's, most CNNs') is unrolled.
 */
export function maxPool(y: FloatArray, argmax: FloatArray, x: FloatArray, g: PoolGeometry, planes: number): void {
  const [D, H, W] = g.in3;
  const [wD, wH, wW] = g.w3;
  const [sD, sH, sW] = g.s3;
  const [oD, oH, oW] = g.o3;
  const inVol = D * H * W;
  const taps = tapOffsets(g);
  const T = taps.length;
  const unrolled = wD === 1 && wH === 2 && wW === 2;
  for (let p = 0, o = 0; p < planes; p++) {
    const xp = p * inVol;
    for (let od = 0; od < oD; od++) {
      for (let oh = 0; oh < oH; oh++) {
        const line = xp + (od * sD * H + oh * sH) * W;
        for (let ow = 0; ow < oW; ow++, o++) {
          const i0 = line + ow * sW;
          let b = i0;
          if (unrolled) {
            b += +(x[i0 + 1] > x[b]) * (i0 + 1 - b);
            b += +(x[i0 + W] > x[b]) * (i0 + W - b);
            b += +(x[i0 + W + 1] > x[b]) * (i0 + W + 1 - b);
          } else {
            for (let k = 1; k < T; k++) {
              const t = i0 + taps[k];
              b += +(x[t] > x[b]) * (t - b);
            }
          }
          argmax[o] = b - xp;
          y[o] = x[b];
        }
      }
    }
  }
}

/** The window's taps as offsets from its first element, row-major; made once per geometry. */
const tapsOf = new WeakMap<PoolGeometry, Int32Array>();
function tapOffsets(g: PoolGeometry): Int32Array {
  let taps = tapsOf.get(g);
  if (!taps) {
    const [, H, W] = g.in3;
    const [wD, wH, wW] = g.w3;
    taps = new Int32Array(wD * wH * wW);
    for (let a = 0, k = 0; a < wD; a++) for (let b = 0; b < wH; b++) for (let c = 0; c < wW; c++) taps[k++] = (a * H + b) * W + c;
    tapsOf.set(g, taps);
  }
  return taps;
}

/** y[p, o] = x[p, argmax[p, o]] */
export function gather(y: FloatArray, x: FloatArray, argmax: FloatArray, inVol: number, outVol: number): void {
  for (let p = 0, o = 0; o < y.length; p += inVol) {
    for (const end = o + outVol; o < end; o++) y[o] = x[p + argmax[o]];
  }
}

/** dx[p, argmax[p, o]] += dy[p, o]: each error goes back only to the element that won. */
export function scatterAdd(dx: FloatArray, dy: FloatArray, argmax: FloatArray, inVol: number, outVol: number): void {
  for (let p = 0, o = 0; o < dy.length; p += inVol) {
    for (const end = o + outVol; o < end; o++) dx[p + argmax[o]] += dy[o];
  }
}

/**
 * y[p, o] = Σ_{j ∈ W_o} x[p, j] / |W_o| over the lifted 3-D geometry; the window is clipped to
 * the input (padding holds zeros), and |W_o| counts the padding when `countPad`.
 */
export function avgPool(y: FloatArray, x: FloatArray, g: PoolGeometry, planes: number, countPad: boolean): void {
  forEachWindow(g, planes, countPad, (xp, o, z0, z1, y0, y1, x0, x1, inv) => {
    const [, H, W] = g.in3;
    let s = 0;
    for (let a = z0; a < z1; a++) for (let b = y0; b < y1; b++) for (let c = x0; c < x1; c++) s += x[xp + (a * H + b) * W + c];
    y[o] = s * inv;
  });
}

/** dx[p, j] = Σ_{o : j ∈ W_o} dy[p, o] / |W_o|, avgPool's adjoint: each window spreads its error evenly. */
export function avgPoolBack(dx: FloatArray, dy: FloatArray, g: PoolGeometry, planes: number, countPad: boolean): void {
  dx.fill(0);
  forEachWindow(g, planes, countPad, (xp, o, z0, z1, y0, y1, x0, x1, inv) => {
    const [, H, W] = g.in3;
    const share = dy[o] * inv;
    for (let a = z0; a < z1; a++) for (let b = y0; b < y1; b++) for (let c = x0; c < x1; c++) dx[xp + (a * H + b) * W + c] += share;
  });
}

type WindowVisit = (xp: number, o: number, z0: number, z1: number, y0: number, y1: number, x0: number, x1: number, inv: number) => void;

/** Calls `visit` per output with its plane's offset in x, its window clipped to the input, and 1/|W_o|. */
function forEachWindow(g: PoolGeometry, planes: number, countPad: boolean, visit: WindowVisit): void {
  const [D, H, W] = g.in3;
  const [wD, wH, wW] = g.w3;
  const [sD, sH, sW] = g.s3;
  const [pD, pH, pW] = g.p3;
  const [oD, oH, oW] = g.o3;
  const full = 1 / (wD * wH * wW);
  for (let p = 0, o = 0; p < planes; p++) {
    const xp = p * D * H * W;
    for (let od = 0; od < oD; od++) {
      const z0 = Math.max(od * sD - pD, 0);
      const z1 = Math.min(od * sD - pD + wD, D);
      for (let oh = 0; oh < oH; oh++) {
        const y0 = Math.max(oh * sH - pH, 0);
        const y1 = Math.min(oh * sH - pH + wH, H);
        for (let ow = 0; ow < oW; ow++, o++) {
          const x0 = Math.max(ow * sW - pW, 0);
          const x1 = Math.min(ow * sW - pW + wW, W);
          visit(xp, o, z0, z1, y0, y1, x0, x1, countPad ? full : 1 / ((z1 - z0) * (y1 - y0) * (x1 - x0)));
        }
      }
    }
  }
}
