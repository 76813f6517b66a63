/** Max-pooling over a lifted 3-D geometry; argmax is the winner's offset in its (n, c) plane. */
import type { FloatArray } from '../../dtype.js';
import type { PoolGeometry } from '../../geometry.js';

export function maxPool(y: FloatArray, argmax: FloatArray, x: FloatArray, g: PoolGeometry, planes: number): void {
  const [D, H, W] = g.in3;
  const [wD, wH, wW] = g.w3;
  const [sD, sH, sW] = g.s3;
  const [oD, oH, oW] = g.o3;
  const inVol = D * H * W;
  for (let p = 0, row = 0; p < planes; p++) {
    const xp = p * inVol;
    for (let od = 0; od < oD; od++) {
      for (let oh = 0; oh < oH; oh++, row += oW) {
        // One row of outputs at a time, window tap by window tap in row-major order: the inner
        // loop over outputs carries no dependency and has no branch (the winner flips
        // unpredictably on real data). The first tap seeds the max; a strict '>' keeps the
        // first of equal maxima; y is re-read at the winner, so it is exactly x there.
        for (let a = 0; a < wD; a++) {
          for (let b = 0; b < wH; b++) {
            for (let c = 0; c < wW; c++) {
              const base = ((od * sD + a) * H + oh * sH + b) * W + c;
              if (a === 0 && b === 0 && c === 0) {
                for (let ow = 0; ow < oW; ow++) {
                  argmax[row + ow] = base + ow * sW;
                  y[row + ow] = x[xp + base + ow * sW];
                }
                continue;
              }
              for (let ow = 0; ow < oW; ow++) {
                const at = base + ow * sW;
                const o = row + ow;
                const gt = +(x[xp + at] > y[o]);
                argmax[o] += gt * (at - argmax[o]);
                y[o] = x[xp + argmax[o]];
              }
            }
          }
        }
      }
    }
  }
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
