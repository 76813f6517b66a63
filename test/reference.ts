/**
 * Direct nested-loop evaluations of the seed's formulas, written independently of the backends
 * (no im2col, no lifting to 3-D): loops run over index tuples of whatever rank the shape has.
 */
export function forEachIndex(shape: readonly number[], fn: (idx: number[]) => void): void {
  const idx = new Array<number>(shape.length).fill(0);
  if (shape.some((d) => d === 0)) return;
  for (;;) {
    fn(idx);
    let a = shape.length - 1;
    while (a >= 0 && ++idx[a] === shape[a]) idx[a--] = 0;
    if (a < 0) return;
  }
}

export function offsetOf(shape: readonly number[], idx: readonly number[]): number {
  let o = 0;
  for (let a = 0; a < shape.length; a++) o = o * shape[a] + idx[a];
  return o;
}

export interface ConvOpts {
  stride: number;
  padding: number;
  dilation: number;
}

/**
 * x^ℓ[n,o,i] = Σ_c Σ_a ω[o,c,a] · y^(ℓ−1)[n, c, i·s + a·d − p], a running over every kernel
 * position, zero outside the input: the seed's x_ij = Σ_ab ω_ab y_(i+a)(j+b) with channels,
 * stride s, zero padding p and dilation d.
 */
export function naiveConv(
  x: ArrayLike<number>, xShape: number[], w: ArrayLike<number>, wShape: number[], o: ConvOpts,
): { y: Float64Array; yShape: number[] } {
  const [N, C, ...S] = xShape;
  const [O, , ...K] = wShape;
  const out = S.map((n, a) => Math.floor((n + 2 * o.padding - o.dilation * (K[a] - 1) - 1) / o.stride) + 1);
  const yShape = [N, O, ...out];
  const y = new Float64Array(yShape.reduce((p, q) => p * q, 1));
  forEachIndex(yShape, ([n, oc, ...i]) => {
    let s = 0;
    for (let c = 0; c < C; c++) {
      forEachIndex(K, (a) => {
        const src = i.map((ii, ax) => ii * o.stride + a[ax] * o.dilation - o.padding);
        if (src.some((v, ax) => v < 0 || v >= S[ax])) return;
        s += w[offsetOf(wShape, [oc, c, ...a])] * x[offsetOf(xShape, [n, c, ...src])];
      });
    }
    y[offsetOf(yShape, [n, oc, ...i])] = s;
  });
  return { y, yShape };
}

/** dE/dω[o,c,a] = Σ_n Σ_i δ[n,o,i] · y[n, c, i·s + a·d − p]: the seed's sum over output positions. */
export function naiveFilterGradient(
  x: ArrayLike<number>, xShape: number[], dy: ArrayLike<number>, dyShape: number[], wShape: number[], o: ConvOpts,
): Float64Array {
  const [N, , ...S] = xShape;
  const [, , ...out] = dyShape;
  const dw = new Float64Array(wShape.reduce((p, q) => p * q, 1));
  forEachIndex(wShape, ([oc, c, ...a]) => {
    let s = 0;
    for (let n = 0; n < N; n++) {
      forEachIndex(out, (i) => {
        const src = i.map((ii, ax) => ii * o.stride + a[ax] * o.dilation - o.padding);
        if (src.some((v, ax) => v < 0 || v >= S[ax])) return;
        s += dy[offsetOf(dyShape, [n, oc, ...i])] * x[offsetOf(xShape, [n, c, ...src])];
      });
    }
    dw[offsetOf(wShape, [oc, c, ...a])] = s;
  });
  return dw;
}
