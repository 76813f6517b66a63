/**
 * The audio front ends (datasets/audio.ts) against NumPy/PyTorch in float64
 * (fixtures/audio_reference.py: torch.stft power, torchaudio's mel filterbank definition written
 * out in NumPy, ln(· + 1e-6), the orthonormal DCT-II, per-channel normalisation; its output is
 * committed beside it), on a synthetic waveform and an excerpt of a real FSDD recording whose
 * length is no multiple of the hop.
 *
 * Tolerances: float64 on both sides, differing in the FFT algorithm (fft.js radix-4 against
 * PyTorch's pocketfft) and the order of the filterbank and DCT sums: ~1e-15 relative on the
 * power, so the log values (|ln| ≤ 14) agree to ~1e-13 absolute; 1e-9 leaves a wide margin.
 * The float32 output path only rounds the float64 result: ≤ 6e-8 relative, checked at 1e-6.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AudioFeatures, hzToMel, melToHz, normaliseChannels, type SpectrogramOptions } from '../../datasets/audio.js';

interface Case { name: string; x: number[]; frames: number; logmel: number[]; mfcc: number[]; logmelNormalised: number[]; mfccNormalised: number[] }
const ref = JSON.parse(readFileSync(new URL('./fixtures/audio-reference.json', import.meta.url), 'utf8')) as { options: SpectrogramOptions; cases: Case[] };

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe('log-mel and MFCC against NumPy/PyTorch (float64)', () => {
  for (const c of ref.cases) {
    for (const kind of ['logmel', 'mfcc'] as const) {
      it(`${c.name}: ${kind}, raw and normalised per channel`, () => {
        const f = new AudioFeatures(kind, c.x.length, ref.options);
        expect(f.frames).toBe(c.frames);
        const out = new Float64Array(f.size);
        f.extract(c.x, out, false);
        expect(maxAbsDiff(out, c[kind])).toBeLessThan(1e-9);
        f.extract(c.x, out);
        expect(maxAbsDiff(out, c[`${kind}Normalised`])).toBeLessThan(1e-9);
        const out32 = new Float32Array(f.size);
        f.extract(c.x, out32);
        // Only the output's rounding (6e-8 relative) on features of magnitude ≤ ~10.
        expect(maxAbsDiff(out32, c[`${kind}Normalised`])).toBeLessThan(1e-6);
      });
    }
  }
});

describe('front-end details', () => {
  it('the mel scale round-trips and is HTK\'s (1000 Hz ↦ 1000 mel)', () => {
    expect(hzToMel(1000)).toBeCloseTo(999.99, 1);
    for (const f of [0, 20, 440, 3999]) expect(melToHz(hzToMel(f))).toBeCloseTo(f, 9);
  });
  it('normalised channels have mean 0 and variance 1; a constant channel becomes 0', () => {
    const x = Float64Array.from([1, 2, 3, 4, 5, 5, 5, 5]);
    normaliseChannels(x, 2, 4);
    expect(x.slice(0, 4).reduce((a, b) => a + b, 0)).toBeCloseTo(0, 12);
    expect(x.slice(0, 4).reduce((a, b) => a + b * b, 0) / 4).toBeCloseTo(1, 6);
    expect([...x.slice(4)]).toEqual([0, 0, 0, 0]);
  });
  it('a relative floor of D dB: log-mel values below the peak − D·ln(10)/10 read as that floor, the rest (and MFCCs of them) unchanged', () => {
    const c = ref.cases[0];
    const plain = new Float64Array(new AudioFeatures('logmel', c.x.length, ref.options).size);
    new AudioFeatures('logmel', c.x.length, ref.options).extract(c.x, plain, false);
    const floored = new Float64Array(plain.length);
    new AudioFeatures('logmel', c.x.length, { ...ref.options, floorDb: 40 }).extract(c.x, floored, false);
    const floor = Math.max(...plain) - 4 * Math.LN10;
    expect(plain.some((v) => v < floor)).toBe(true);
    expect(maxAbsDiff(floored, plain.map((v) => Math.max(v, floor)))).toBe(0);
    expect(() => new AudioFeatures('logmel', 100, { ...ref.options, floorDb: 0 })).toThrow(/floorDb 0 is not a positive number of dB/);
  });
  it('refuses impossible settings with the value', () => {
    const o = ref.options;
    expect(() => new AudioFeatures('logmel', 100, { ...o, nFft: 200 })).toThrow(/nFft 200 is not a power of 2/);
    expect(() => new AudioFeatures('logmel', 100, { ...o, fMax: 5000 })).toThrow(/fMax ≤ rate\/2/);
    expect(() => new AudioFeatures('mfcc', 100, { ...o, coefficients: 41 })).toThrow(/41 coefficients of 40 mel bands/);
    expect(() => new AudioFeatures('logmel', 0, o)).toThrow(/length 0/);
  });
});
