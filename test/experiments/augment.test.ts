/**
 * The augmentation pipeline (experiments/augment.ts), stage by stage on small batches: what each
 * stage does to an example, that its random draws are seeded and resumable, that a shift-only
 * pipeline draws what the shift augmenter before it drew, and the samplers' moments.
 */
import { describe, expect, it } from 'vitest';
import { affineInto, Augmenter, beta, shiftInto, speedInto, type AugmenterSetup, type FeatureTransform } from '../../experiments/augment.js';
import { AudioFeatures } from '../../datasets/audio.js';
import type { Batch } from '../../src/nd/model.js';
import { Rng } from '../../src/nd/rng.js';

function batchOf(n: number, size: number, seed: number, classes = 3): Batch {
  const rng = new Rng(seed);
  return { x: Float32Array.from({ length: n * size }, () => rng.normal()), y: Int32Array.from({ length: n }, () => rng.int(classes)), n };
}

const setup = (o: Partial<AugmenterSetup>): AugmenterSetup => ({ shape: [1, 6, 5], shift: 0, options: {}, features: null, classes: 3, seed: 4, ...o });

describe('augmentation stages', () => {
  it('a shift-only pipeline draws the offsets the shift augmenter drew: one Rng.int per axis per example', () => {
    const b = batchOf(4, 30, 1);
    const expected = b.x.slice();
    const rng = new Rng(9);
    for (let i = 0; i < 4; i++) {
      const d = [rng.int(5) - 2, rng.int(5) - 2];
      shiftInto(expected.subarray(i * 30, (i + 1) * 30), b.x.slice(i * 30, (i + 1) * 30), [1, 6, 5], d);
    }
    const out = new Augmenter(setup({ shift: 2, seed: 9 })).apply(b);
    expect(out).toBe(b);
    expect(out.x).toEqual(expected);
  });

  it('flip mirrors the last axis of about half the examples and leaves the rest', () => {
    const n = 400;
    const b = batchOf(n, 30, 2);
    const before = b.x.slice();
    new Augmenter(setup({ options: { flip: true } })).apply(b);
    let flipped = 0;
    for (let i = 0; i < n; i++) {
      const row = (r: number, src: Float32Array | Float64Array) => Array.from(src.subarray(i * 30 + r * 5, i * 30 + r * 5 + 5));
      const same = Array.from({ length: 6 }, (_, r) => row(r, b.x)).every((v, r) => v.every((x, j) => x === row(r, before)[j]));
      const mirrored = Array.from({ length: 6 }, (_, r) => row(r, b.x)).every((v, r) => v.every((x, j) => x === row(r, before)[4 - j]));
      expect(same || mirrored).toBe(true);
      if (mirrored) flipped++;
    }
    // Binomial(400, ½): ±4 standard deviations is 160..240.
    expect(flipped).toBeGreaterThan(160);
    expect(flipped).toBeLessThan(240);
  });

  it('flip negates the channels holding the position along the flipped axis: the mirror patch\'s positions', () => {
    // Two channels of [2, 2, 5]: content, and x positions s = 2i/(X − 1) − 1 of a patch at corner 1 of X = 11.
    const X = 11;
    const content = Array.from({ length: 10 }, (_, i) => i + 1);
    const positions = Array.from({ length: 10 }, (_, i) => (2 * (1 + (i % 5))) / (X - 1) - 1);
    const n = 64;
    const b: Batch = { x: Float32Array.from({ length: n * 20 }, (_, e) => [...content, ...positions][e % 20]), y: new Int32Array(n), n };
    new Augmenter(setup({ shape: [2, 2, 5], options: { flip: true }, flipNegates: [1] })).apply(b);
    // The mirror image of the patch at x = 1..5 lies at x = X − 1 − 5 .. X − 1 − 1 = 5..9: its positions, ascending.
    const mirrored = Float32Array.from([...[5, 4, 3, 2, 1, 10, 9, 8, 7, 6], ...positions.map((_, i) => (2 * (5 + (i % 5))) / (X - 1) - 1)]);
    let flipped = 0;
    for (let i = 0; i < n; i++) {
      const got = b.x.subarray(i * 20, (i + 1) * 20);
      const isMirror = got.every((v, e) => Math.abs(v - mirrored[e]) < 1e-6);
      expect(isMirror || got.every((v, e) => v === [...content, ...positions].map(Math.fround)[e])).toBe(true);
      if (isMirror) flipped++;
    }
    expect(flipped).toBeGreaterThan(0);
    expect(flipped).toBeLessThan(n);
  });

  it('rotate/zoom: angle 0 at factor 1 is the identity; 90° turns the image; factor 2 magnifies about the centre', () => {
    // Two channels of 5 × 5, every value distinct.
    const shape = [2, 5, 5];
    const src = Float32Array.from({ length: 50 }, (_, e) => e + 1);
    const dst = new Float32Array(50);
    affineInto(dst, src, shape, 0, 1);
    expect(dst).toEqual(src);
    // dst(i, j) = src(c + R(−θ)(p − c)): at θ = 90° that is src(4 − j, i) in (row, column).
    affineInto(dst, src, shape, Math.PI / 2, 1);
    for (let c = 0; c < 2; c++) for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) expect(dst[c * 25 + i * 5 + j]).toBeCloseTo(src[c * 25 + (4 - j) * 5 + i], 4);
    // z = 2: dst(i, j) = src(2 + (i − 2)/2, 2 + (j − 2)/2); (0, 0) reads src(1, 1), (1, 2) the mean of src(1, 2) and src(2, 2).
    affineInto(dst, src, shape, 0, 2);
    expect(dst[0]).toBeCloseTo(src[6], 5);
    expect(dst[7]).toBeCloseTo((src[7] + src[12]) / 2, 5);
    expect(dst[25 + 12]).toBeCloseTo(src[25 + 12], 5);
    // z = ½ shrinks: the corners read from outside the image, 0.
    affineInto(dst, src, shape, 0, 0.5);
    expect(dst[0]).toBe(0);
    expect(dst[12]).toBe(src[12]);
  });

  it('speed: factor 1 is the identity; factor 2 plays twice as fast about the centre', () => {
    const src = Float32Array.from({ length: 9 }, (_, i) => i * i);
    const dst = new Float32Array(9);
    speedInto(dst, src, 1, 9);
    expect(dst).toEqual(src);
    speedInto(dst, src, 2, 9);
    // j ↦ 4 + 2(j − 4): samples 0, 2, …, 8 land on j = 2..6; outside is zero.
    expect(Array.from(dst)).toEqual([0, 0, 0, 4, 16, 36, 64, 0, 0]);
    speedInto(dst, src, 0.5, 9);
    expect(dst[5]).toBeCloseTo((16 + 25) / 2, 5);
  });

  it('noise is added at the asked SNR', () => {
    const b = batchOf(2, 20000, 3);
    const clean = b.x.slice();
    new Augmenter(setup({ shape: [1, 20000], options: { noiseSnr: 10 } })).apply(b);
    for (let i = 0; i < 2; i++) {
      let ps = 0;
      let pn = 0;
      for (let k = i * 20000; k < (i + 1) * 20000; k++) {
        ps += clean[k] ** 2;
        pn += (b.x[k] - clean[k]) ** 2;
      }
      // The noise power's sampling error at 20,000 samples is 1 % (√(2/20000)); 0.2 dB is ~5 %.
      expect(Math.abs(10 * Math.log10(ps / pn) - 10)).toBeLessThan(0.2);
    }
  });

  it('features of the augmented waveform, then SpecAugment: a band of ≤ F channels and a run of ≤ T frames at 0', () => {
    const features: FeatureTransform = new AudioFeatures('logmel', 800, { rate: 8000, nFft: 64, hop: 20, mels: 12 });
    const b = batchOf(6, 800, 5);
    const a = new Augmenter(setup({ shape: [1, 800], features, options: { freqMask: 4, timeMask: 10 } }));
    const out = a.apply(b);
    expect(out.x.length).toBe(6 * 12 * 41);
    expect(out.y).toBe(b.y);
    for (let i = 0; i < 6; i++) {
      const x = out.x.subarray(i * 12 * 41, (i + 1) * 12 * 41);
      const zeroRows = Array.from({ length: 12 }, (_, c) => x.subarray(c * 41, (c + 1) * 41).every((v) => v === 0)).filter(Boolean).length;
      const zeroCols = Array.from({ length: 41 }, (_, t) => Array.from({ length: 12 }, (_, c) => x[c * 41 + t]).every((v) => v === 0)).filter(Boolean).length;
      expect(zeroRows).toBeLessThanOrEqual(4);
      expect(zeroCols).toBeLessThanOrEqual(zeroRows === 12 ? 41 : 10);
    }
    // Without masks, the batch holds exactly the features of each (unaugmented) waveform.
    const plain = new Augmenter(setup({ shape: [1, 800], features, options: {} })).apply(b);
    const one = new Float32Array(features.size);
    features.extract(b.x.subarray(800, 1600), one);
    expect(plain.x.subarray(features.size, 2 * features.size)).toEqual(one);
  });

  it('label smoothing and mixup give soft targets whose rows sum to 1 and match the mixed inputs', () => {
    const b = batchOf(8, 30, 6);
    const before = b.x.slice();
    const out = new Augmenter(setup({ options: { labelSmoothing: 0.1, mixup: 0.4 } })).apply(b);
    expect(out.y.length).toBe(8 * 3);
    for (let i = 0; i < 8; i++) {
      const row = Array.from(out.y.subarray(i * 3, i * 3 + 3));
      expect(row.reduce((s, v) => s + v, 0)).toBeCloseTo(1, 6);
      expect(Math.min(...row)).toBeGreaterThanOrEqual(0.1 / 3 - 1e-7);
    }
    // Every mixed input is λ·x_i + (1 − λ)·x_j for some j, with one λ for the whole batch
    // (λ fitted by least squares over the example's elements).
    const lambdas: number[] = [];
    for (let i = 0; i < 8; i++) {
      const xi = before.subarray(i * 30, (i + 1) * 30);
      const yi = out.x.subarray(i * 30, (i + 1) * 30);
      // Paired with itself (a fixed point of the permutation), it stays.
      if (Array.from(xi).every((v, e) => Math.abs(v - yi[e]) < 1e-5)) continue;
      const found = Array.from({ length: 8 }, (_, j) => j).some((j) => {
        if (j === i) return false;
        const xj = before.subarray(j * 30, (j + 1) * 30);
        let num = 0;
        let den = 0;
        for (let e = 0; e < 30; e++) {
          num += (yi[e] - xj[e]) * (xi[e] - xj[e]);
          den += (xi[e] - xj[e]) ** 2;
        }
        const l = num / den;
        const fits = Array.from(xi).every((v, e) => Math.abs(l * v + (1 - l) * xj[e] - yi[e]) < 1e-4);
        if (fits) lambdas.push(l);
        return fits;
      });
      expect(found).toBe(true);
    }
    expect(lambdas.length).toBeGreaterThan(0);
    for (const l of lambdas) expect(l).toBeCloseTo(lambdas[0], 4);
  });

  it('its state replays the same draws', () => {
    const o = setup({ shift: 1, options: { flip: true, labelSmoothing: 0.1, mixup: 0.3 } });
    const a = new Augmenter(o);
    a.apply(batchOf(4, 30, 7));
    const saved = a.state();
    const first = a.apply(batchOf(4, 30, 8));
    const fx = first.x.slice();
    const fy = first.y.slice();
    const b = new Augmenter(o);
    b.loadState(saved);
    const again = b.apply(batchOf(4, 30, 8));
    expect(again.x).toEqual(fx);
    expect(again.y).toEqual(fy);
  });

  it('Beta(α, α) draws have mean ½ and variance 1/(4(2α + 1))', () => {
    for (const alpha of [0.2, 1, 3]) {
      const rng = new Rng(11);
      const v = Array.from({ length: 20000 }, () => beta(rng, alpha));
      const m = v.reduce((a, b) => a + b, 0) / v.length;
      const s2 = v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1);
      const want = 1 / (4 * (2 * alpha + 1));
      // Standard errors at 20,000 draws: mean ≤ 0.0035, variance ≤ 3 %.
      expect(Math.abs(m - 0.5)).toBeLessThan(0.015);
      expect(Math.abs(s2 / want - 1)).toBeLessThan(0.08);
    }
  });
});
