import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataError } from '../../datasets/errors.js';
import { resample, resampledLength } from '../../datasets/resample.js';
import { readWav } from '../../datasets/wav.js';
import { FIXTURE_DATA } from '../data.js';
import { makeWav } from './synth.js';

const FSDD = join(FIXTURE_DATA, 'fsdd', 'recordings');

/** Little-endian bytes of integer samples of `bits` bits (two's complement; 8-bit is offset by 128). */
function pcmBytes(bits: number, ints: number[]): Uint8Array {
  const step = bits / 8;
  const out = new Uint8Array(ints.length * step);
  ints.forEach((x, i) => {
    const u = bits === 8 ? x + 128 : x < 0 ? x + 2 ** bits : x;
    for (let b = 0; b < step; b++) out[i * step + b] = Math.floor(u / 256 ** b) % 256;
  });
  return out;
}

describe('readWav on real FSDD recordings (the committed excerpt)', () => {
  const files = readdirSync(FSDD).sort().filter((_, i) => i % 12 === 0);

  it.each(files)('%s: 8 kHz mono, one sample per 2 data bytes, within [-1, 1]', (file) => {
    const bytes = readFileSync(join(FSDD, file));
    const wav = readWav(bytes, file);
    // The data chunk length, found independently by scanning for its tag.
    const at = Buffer.from(bytes).indexOf('data');
    const dataBytes = new DataView(bytes.buffer, bytes.byteOffset).getUint32(at + 4, true);
    expect(wav).toMatchObject({ sampleRate: 8000, channels: 1 });
    expect(wav.samples.length).toBe(dataBytes / 2);
    const first = new DataView(bytes.buffer, bytes.byteOffset).getInt16(at + 8, true);
    expect(wav.samples[0]).toBe(first / 32768);
    expect(wav.samples.every((s) => s >= -1 && s <= 1)).toBe(true);
  });

  it('a truncated recording names the file and both sizes', () => {
    const bytes = readFileSync(join(FSDD, '0_george_0.wav'));
    const cut = bytes.subarray(0, 1000);
    expect(() => readWav(cut, 'fsdd/0_george_0.wav')).toThrow(
      /^fsdd\/0_george_0\.wav: truncated data chunk \(declares \d+ bytes, 956 present\)$/,
    );
  });
});

describe('readWav on synthetic files', () => {
  // Full scale is 2^(bits-1): the extreme codes map to exactly -1 and (2^(bits-1) - 1) / 2^(bits-1).
  it.each([8, 16, 24, 32])('%i-bit PCM decodes v / 2^(bits-1), plain and extensible', (bits) => {
    const full = 2 ** (bits - 1);
    const ints = [0, 1, -1, full - 1, -full, Math.floor(full / 2)];
    for (const extensible of [false, true]) {
      const wav = readWav(makeWav({ format: 1, bits, channels: 1, rate: 11025, data: pcmBytes(bits, ints), extensible }));
      expect(wav.sampleRate).toBe(11025);
      // float32 holds these ratios exactly except 32-bit codes near full scale, rounded to 24 bits.
      expect(Array.from(wav.samples)).toEqual(ints.map((x) => Math.fround(x / full)));
    }
  });

  it('32-bit float decodes as stored and clips beyond full scale', () => {
    const values = [0, 0.25, -0.5, 1, -1, 1.5, -3];
    const data = new Uint8Array(values.length * 4);
    values.forEach((x, i) => new DataView(data.buffer).setFloat32(4 * i, x, true));
    const wav = readWav(makeWav({ format: 3, bits: 32, channels: 1, rate: 48000, data }));
    expect(Array.from(wav.samples)).toEqual([0, 0.25, -0.5, 1, -1, 1, -1]);
  });

  it.each([2, 3, 6])('%i channels mix to their mean', (channels) => {
    // Frame f, channel c holds 1000·(c + 1)·(f + 1) - 3000.
    const ints: number[] = [];
    for (let f = 0; f < 4; f++) for (let c = 0; c < channels; c++) ints.push(1000 * (c + 1) * (f + 1) - 3000);
    const wav = readWav(makeWav({ format: 1, bits: 16, channels, rate: 8000, data: pcmBytes(16, ints) }));
    expect(wav.channels).toBe(channels);
    const expected = [0, 1, 2, 3].map((f) => Math.fround((1000 * ((channels + 1) / 2) * (f + 1) - 3000) / 32768));
    // Float32 of a mean of 16-bit ratios: exact to float32 rounding (one ulp, ~6e-8 relative).
    Array.from(wav.samples).forEach((s, f) => expect(s).toBeCloseTo(expected[f], 6));
  });

  it('rejects what it cannot read with one clear line', () => {
    const ok = makeWav({ format: 1, bits: 16, channels: 1, rate: 8000, data: pcmBytes(16, [1, 2, 3]) });
    expect(() => readWav(ok.subarray(0, 8), 'a.wav')).toThrow('a.wav: not a RIFF/WAVE file');
    expect(() => readWav(makeWav({ format: 1, bits: 12, channels: 1, rate: 8000, data: new Uint8Array(0) }), 'b.wav')).toThrow(
      'b.wav: unsupported PCM bit depth 12 (supported: 8/16/24/32)',
    );
    expect(() => readWav(makeWav({ format: 3, bits: 64, channels: 1, rate: 8000, data: new Uint8Array(0) }), 'c.wav')).toThrow(
      'c.wav: unsupported float bit depth 64 (supported: 32)',
    );
    const odd = makeWav({ format: 1, bits: 16, channels: 2, rate: 8000, data: new Uint8Array(6) });
    expect(() => readWav(odd, 'd.wav')).toThrow('d.wav: data chunk of 6 bytes is not a whole number of 4-byte frames');
    const noData = ok.subarray(0, 36); // header and fmt chunk only
    expect(() => readWav(noData, 'e.wav')).toThrow(new DataError('e.wav', 'no data chunk'));
    const dataFirst = Uint8Array.from(ok);
    dataFirst.set(new TextEncoder().encode('junk'), 12); // the fmt chunk becomes an unknown chunk
    expect(() => readWav(dataFirst, 'f.wav')).toThrow('f.wav: data chunk comes before any fmt chunk');
  });
});

describe('resample (Kaiser-windowed sinc)', () => {
  const tone = (n: number, rate: number, hz: number) => Float32Array.from({ length: n }, (_, i) => Math.sin((2 * Math.PI * hz * i) / rate));

  it('equal rates copy the signal', () => {
    const x = tone(100, 8000, 440);
    expect(Array.from(resample(x, 8000, 8000))).toEqual(Array.from(x));
  });

  it.each([
    [8000, 16000],
    [8000, 11025],
    [44100, 8000],
    [16000, 8000],
  ])('a 440 Hz tone at %i Hz -> %i Hz matches the tone sampled at the new rate', (from, to) => {
    const y = resample(tone(4000, from, 440), from, to);
    expect(y.length).toBe(resampledLength(4000, from, to));
    const want = tone(y.length, to, 440);
    // Away from the ends (where the kernel meets the zero padding) the error is the kernel's
    // passband ripple plus the table interpolation (~2e-6 per tap, ~32 taps) plus float32
    // rounding; measured 1.6e-5 for 8 -> 16 kHz, so 1e-4 leaves room without hiding a wrong kernel.
    let worst = 0;
    for (let j = 64; j < y.length - 64; j++) worst = Math.max(worst, Math.abs(y[j] - want[j]));
    expect(worst).toBeLessThan(1e-4);
  });

  it('downsampling removes content above the new Nyquist frequency instead of aliasing it', () => {
    // 6 kHz at 16 kHz lies above 4 kHz, the Nyquist frequency of 8 kHz: it must be filtered out.
    const y = resample(tone(8000, 16000, 6000), 16000, 8000);
    let energy = 0;
    for (let j = 64; j < y.length - 64; j++) energy += y[j] * y[j];
    // A unit sine has mean power 0.5. Kaiser beta 8.6 is designed for ~90 dB of stopband, and 6 kHz
    // lies well past the transition band (measured -116 dB), so -80 dB (1e-8 of the power) must hold;
    // linear interpolation would have folded it to 2 kHz at full power.
    expect(energy / (y.length - 128) / 0.5).toBeLessThan(1e-8);
  });
});
