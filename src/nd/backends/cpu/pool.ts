/** Max-pooling over a lifted 3-D geometry; argmax is the winner's offset in its (n, c) plane. */
import type { FloatArray } from '../../dtype';
import type { PoolGeometry } from '../../geometry';

export function maxPool(y: FloatArray, argmax: FloatArray, x: FloatArray, g: PoolGeometry, planes: number): void {
  const [D, H, W] = g.in3;
  const [wD, wH, wW] = g.w3;
  const [sD, sH, sW] = g.s3;
  const [oD, oH, oW] = g.o3;
  const inVol = D * H * W;
  const outVol = oD * oH * oW;
  for (let p = 0; p < planes; p++) {
    const xp = p * inVol;
    let o = p * outVol;
    for (let od = 0; od < oD; od++) {
      for (let oh = 0; oh < oH; oh++) {
        for (let ow = 0; ow < oW; ow++, o++) {
          let best = -Infinity;
          let at = -1;
          for (let a = 0; a < wD; a++) {
            for (let b = 0; b < wH; b++) {
              const row = ((od * sD + a) * H + oh * sH + b) * W + ow * sW;
              for (let c = 0; c < wW; c++) {
                const v = x[xp + row + c];
                // Strict '>' keeps the first of equal maxima (ties are routed to one element only).
                if (v > best || at < 0) {
                  best = v;
                  at = row + c;
                }
              }
            }
          }
          y[o] = best;
          argmax[o] = at;
        }
      }
    }
  }
}

/** y[p, o] = x[p, argmax[p, o]] */
export function gather(y: FloatArray, x: FloatArray, argmax: FloatArray, inVol: number, outVol: number): void {
  for (let o = 0; o < y.length; o++) y[o] = x[Math.floor(o / outVol) * inVol + argmax[o]];
}

/** dx[p, argmax[p, o]] += dy[p, o]: each error goes back only to the element that won. */
export function scatterAdd(dx: FloatArray, dy: FloatArray, argmax: FloatArray, inVol: number, outVol: number): void {
  for (let o = 0; o < dy.length; o++) dx[Math.floor(o / outVol) * inVol + argmax[o]] += dy[o];
}
