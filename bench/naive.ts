/**
 * The floor: convolution as the nested loops of its definition, no lowering, float32 storage.
 * Rank-generic through the same 3-D lifting as the backend (leading singleton axes); valid
 * padding, stride 1, like the workloads.
 *   forward         y[n,o,i]  = Σ_{c,a} w[o,c,a]·x[n,c,i+a]
 *   backward data   dx[n,c,j] = Σ_{o,a} dy[n,o,j−a]·w[o,c,a]   (scattered from each i = j − a)
 *   backward filter dw[o,c,a] = Σ_{n,i} dy[n,o,i]·x[n,c,i+a]
 */
export interface NaiveShape {
  n: number;
  cin: number;
  cout: number;
  in3: [number, number, number];
  k3: [number, number, number];
}

function out3(s: NaiveShape): [number, number, number] {
  return [s.in3[0] - s.k3[0] + 1, s.in3[1] - s.k3[1] + 1, s.in3[2] - s.k3[2] + 1];
}

/**
 * Visits every (sample, out channel, in channel, output index, tap) with flat indices of x, y
 * and w; `mode` picks which of the three products runs in the innermost statement.
 */
function loops(s: NaiveShape, mode: 0 | 1 | 2, x: Float32Array, y: Float32Array, w: Float32Array): void {
  const [D, H, W] = s.in3;
  const [kD, kH, kW] = s.k3;
  const [oD, oH, oW] = out3(s);
  const inVol = D * H * W;
  const outVol = oD * oH * oW;
  const kVol = kD * kH * kW;
  for (let n = 0; n < s.n; n++) {
    for (let o = 0; o < s.cout; o++) {
      const yo = (n * s.cout + o) * outVol;
      for (let c = 0; c < s.cin; c++) {
        const xc = (n * s.cin + c) * inVol;
        const wc = (o * s.cin + c) * kVol;
        for (let od = 0; od < oD; od++) for (let oh = 0; oh < oH; oh++) for (let ow = 0; ow < oW; ow++) {
          const yi = yo + (od * oH + oh) * oW + ow;
          for (let kd = 0; kd < kD; kd++) for (let kh = 0; kh < kH; kh++) for (let kw = 0; kw < kW; kw++) {
            const xi = xc + ((od + kd) * H + oh + kh) * W + ow + kw;
            const wi = wc + (kd * kH + kh) * kW + kw;
            if (mode === 0) y[yi] += w[wi] * x[xi];
            else if (mode === 1) x[xi] += y[yi] * w[wi];
            else w[wi] += y[yi] * x[xi];
          }
        }
      }
    }
  }
}

export function naiveConv(y: Float32Array, x: Float32Array, w: Float32Array, s: NaiveShape): void {
  y.fill(0);
  loops(s, 0, x, y, w);
}

export function naiveBackData(dx: Float32Array, dy: Float32Array, w: Float32Array, s: NaiveShape): void {
  dx.fill(0);
  loops(s, 1, dx, dy, w);
}

export function naiveBackFilter(dw: Float32Array, x: Float32Array, dy: Float32Array, s: NaiveShape): void {
  dw.fill(0);
  loops(s, 2, x, dy, dw);
}
