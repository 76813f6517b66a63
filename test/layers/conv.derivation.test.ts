/**
 * The seed's convolution equations, reproduced numerically in ranks 1, 2, 3 on the CPU backend
 * in float64. Tolerances: the backend and the references add the same products in a different
 * order, so they agree to a few ulps of Σ|terms| (≈1e-15 relative); 1e-12 leaves room for sums
 * of a few hundred terms while any wrong index shows up at O(1).
 */
import ndarray from 'ndarray';
import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../../src/nd/backends/cpu/index.js';
import { ConvGeometry } from '../../src/nd/geometry.js';
import { Rng } from '../../src/nd/rng.js';
import { randn, relError } from '../helpers.js';
import { forEachIndex, naiveConv, naiveFilterGradient, offsetOf } from '../reference.js';

const B = cpuBackend('float64');
const TIGHT = 1e-12;

const RANKS = [
  { rank: 1, spatial: [11], kernel: [3] },
  { rank: 2, spatial: [7, 6], kernel: [3, 2] },
  { rank: 3, spatial: [5, 6, 4], kernel: [2, 3, 2] },
];
const OPTIONS = [
  { stride: 1, padding: 0, dilation: 1 },
  { stride: 2, padding: 0, dilation: 1 },
  { stride: 1, padding: 1, dilation: 1 },
  { stride: 1, padding: 0, dilation: 2 },
  { stride: 2, padding: 1, dilation: 2 },
];
const CASES = RANKS.flatMap((r) => OPTIONS.map((o) => ({ ...r, ...o })));
const name = (c: (typeof CASES)[number]) => `rank ${c.rank}, stride ${c.stride}, padding ${c.padding}, dilation ${c.dilation}`;

function setup(c: (typeof CASES)[number], seed: number) {
  const rng = new Rng(seed);
  const [N, Cin, Cout] = [2, 3, 2];
  const g = new ConvGeometry('conv', [Cin, ...c.spatial], { ...c, channels: Cout });
  const xShape = g.inShape(N);
  const wShape = g.weightShape();
  const x = randn(rng, xShape.reduce((a, b) => a * b));
  const w = randn(rng, wShape.reduce((a, b) => a * b));
  const dy = randn(rng, g.outShape(N).reduce((a, b) => a * b));
  return { g, N, xShape, wShape, x, w, dy };
}

describe('output size (N − m + 1)^r', () => {
  it.each(RANKS)('rank $rank: a valid m-filter on N gives N − m + 1 per axis', ({ spatial, kernel }) => {
    const g = new ConvGeometry('conv', [1, ...spatial], { channels: 1, kernel });
    expect(g.outSize).toEqual(spatial.map((n, a) => n - kernel[a] + 1));
  });
  it.each(CASES)('$rank-D with options: the size is the count of valid window placements (%#)', (c) => {
    const g = new ConvGeometry('conv', [1, ...c.spatial], { ...c, channels: 1 });
    const counted = c.spatial.map((n, a) => {
      let k = 0;
      // A placement i is valid when its first tap i·s − p fits and its last tap still lies in the padded input.
      for (let i = 0; i * c.stride + c.dilation * (c.kernel[a] - 1) < n + 2 * c.padding; i++) k++;
      return k;
    });
    expect(g.outSize).toEqual(counted);
  });
});

describe('forward: x_ij = Σ_ab ω_ab y_(i+a)(j+b)', () => {
  it.each(CASES.map((c) => [name(c), c] as const))('%s matches the direct sum', (_, c) => {
    const { g, N, xShape, wShape, x, w } = setup(c, 1);
    const y = B.zeros(g.outShape(N));
    B.conv(y, B.upload(xShape, x), B.upload(wShape, w), g, false);
    const ref = naiveConv(x, xShape, w, wShape, c);
    expect(ref.yShape).toEqual(g.outShape(N));
    expect(relError(B.download(y), ref.y)).toBeLessThan(TIGHT);
  });
});

describe('dE/dω_ab = Σ_ij δ_ij y_(i+a)(j+b) (weight sharing sums over all output positions)', () => {
  it.each(CASES.map((c) => [name(c), c] as const))('%s', (_, c) => {
    const { g, N, xShape, wShape, x, dy } = setup(c, 2);
    const dw = B.zeros(wShape);
    B.convBackFilter(dw, B.upload(xShape, x), B.upload(g.outShape(N), dy), g, false);
    const ref = naiveFilterGradient(x, xShape, dy, g.outShape(N), wShape, c);
    expect(relError(B.download(dw), ref)).toBeLessThan(TIGHT);
  });
});

describe('dE/dy^(ℓ−1) = FULL convolution of the deltas with the kernel flipped on every axis', () => {
  it.each(RANKS)('rank $rank: zero-pad δ by m − 1, flip ω, correlate: equals convBackData', ({ rank, spatial, kernel }) => {
    const c = { rank, spatial, kernel, stride: 1, padding: 0, dilation: 1 };
    const { g, N, xShape, wShape, w, dy } = setup(c, 3);
    const dx = B.zeros(xShape);
    B.convBackData(dx, B.upload(g.outShape(N), dy), B.upload(wShape, w), g, false);

    // Build the flipped kernel explicitly: ndarray views with step −1 on every spatial axis, and
    // input/output channels swapped (the adjoint maps Cout channels back to Cin).
    const [Cout, Cin] = wShape;
    const wv = ndarray(Float64Array.from(w), wShape);
    const flippedView = wv.step(1, 1, ...kernel.map(() => -1)).transpose(1, 0, ...kernel.map((_, a) => a + 2));
    const fShape = [Cin, Cout, ...kernel];
    const flipped = new Float64Array(w.length);
    forEachIndex(fShape, (idx) => (flipped[offsetOf(fShape, idx)] = flippedView.get(...idx)));
    // Zero-pad the deltas by m − 1 on both sides of every axis, then a valid correlation.
    const dyShape = g.outShape(N);
    const padded = kernel.map((m) => m - 1);
    const pShape = [N, Cout, ...dyShape.slice(2).map((n, a) => n + 2 * padded[a])];
    const pd = new Float64Array(pShape.reduce((a, b) => a * b));
    forEachIndex(dyShape, ([n, o, ...i]) => (pd[offsetOf(pShape, [n, o, ...i.map((v, a) => v + padded[a])])] = dy[offsetOf(dyShape, [n, o, ...i])]));
    const full = naiveConv(pd, pShape, flipped, fShape, { stride: 1, padding: 0, dilation: 1 });

    expect(full.yShape).toEqual(xShape);
    expect(relError(B.download(dx), full.y)).toBeLessThan(TIGHT);
  });
});

describe('adjoint identities ⟨conv(x,w), δ⟩ = ⟨x, convBackData(δ,w)⟩ = ⟨w, convBackFilter(x,δ)⟩', () => {
  it.each(CASES.map((c) => [name(c), c] as const))('%s', (_, c) => {
    const { g, N, xShape, wShape, x, w, dy } = setup(c, 4);
    const [X, W, DY] = [B.upload(xShape, x), B.upload(wShape, w), B.upload(g.outShape(N), dy)];
    const y = B.zeros(g.outShape(N));
    const dx = B.zeros(xShape);
    const dw = B.zeros(wShape);
    B.conv(y, X, W, g, false);
    B.convBackData(dx, DY, W, g, false);
    B.convBackFilter(dw, X, DY, g, false);
    const lhs = B.dot(y, DY);
    // Each inner product is a sum of O(10³) products of unit normals: float64 agrees to ~1e-13 of the scale.
    const scale = Math.sqrt(x.length * dy.length);
    expect(Math.abs(lhs - B.dot(X, dx)) / scale).toBeLessThan(1e-13);
    expect(Math.abs(lhs - B.dot(W, dw)) / scale).toBeLessThan(1e-13);
  });

  it('accumulate adds to the destination instead of overwriting it', () => {
    const { g, N, xShape, wShape, x, w } = setup(CASES[7], 5);
    const y1 = B.zeros(g.outShape(N));
    const y2 = B.zeros(g.outShape(N));
    B.conv(y1, B.upload(xShape, x), B.upload(wShape, w), g, false);
    B.fill(y2, 1);
    B.conv(y2, B.upload(xShape, x), B.upload(wShape, w), g, true);
    const a = B.download(y1);
    expect(relError(B.download(y2), a.map((v) => v + 1))).toBeLessThan(TIGHT);
  });
});
