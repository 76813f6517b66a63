import { DataError } from './errors.js';

/** A decoded WAV file, mixed down to one channel. */
export interface Wav {
  sampleRate: number;
  /** Channel count of the file (the samples are already their mean). */
  channels: number;
  /** One sample per frame, in [-1, 1]. */
  samples: Float32Array;
}

const WAVE_FORMAT_PCM = 1;
const WAVE_FORMAT_IEEE_FLOAT = 3;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

/**
 * Sample rates accepted, in Hz: from 1 kHz (below it there is no speech band left to keep)
 * to 768 kHz (the highest rate audio converters offer). A header is just a number: a 1 Hz
 * claim once made a 100 kB file resample to gigabytes.
 */
export const MIN_SAMPLE_RATE = 1000;
export const MAX_SAMPLE_RATE = 768_000;

/** Reads sample `i` of a little-endian stream as a float in [-1, 1]; one per supported encoding. */
type SampleReader = (v: DataView, byte: number) => number;

/** Integer PCM scales by 2^(bits-1) (8-bit PCM is unsigned, offset 128, per the RIFF spec). */
const PCM_READERS: Record<number, SampleReader> = {
  8: (v, b) => (v.getUint8(b) - 128) / 128,
  16: (v, b) => v.getInt16(b, true) / 32768,
  24: (v, b) => (((v.getUint8(b + 2) << 24) | (v.getUint8(b + 1) << 16) | (v.getUint8(b) << 8)) >> 8) / 8388608,
  32: (v, b) => v.getInt32(b, true) / 2147483648,
};
const FLOAT_READERS: Record<number, SampleReader> = {
  32: (v, b) => v.getFloat32(b, true),
};

interface Format {
  code: number;
  channels: number;
  sampleRate: number;
  bits: number;
  blockAlign: number;
}

/**
 * Decodes a RIFF/WAVE file: integer PCM of 8, 16, 24 or 32 bits, or 32-bit float, plain or
 * WAVE_FORMAT_EXTENSIBLE, any channel count (mixed to mono by the mean), sample rates from
 * MIN_SAMPLE_RATE to MAX_SAMPLE_RATE.
 * Every chunk size is checked against the bytes present before it is used.
 */
export function readWav(bytes: Uint8Array, name = 'wav'): Wav {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (at: number) => String.fromCharCode(bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]);
  if (bytes.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') {
    throw new DataError(name, 'not a RIFF/WAVE file (no "RIFF....WAVE" header)');
  }
  let format: Format | undefined;
  // Chunks follow the 12-byte header: id, little-endian size, payload padded to an even length.
  for (let at = 12; at + 8 <= bytes.length; ) {
    const id = tag(at);
    const size = view.getUint32(at + 4, true);
    const body = at + 8;
    const present = bytes.length - body;
    if (id === 'fmt ') {
      if (size > present) throw new DataError(name, `truncated fmt chunk (declares ${size} bytes, ${present} present)`);
      format = parseFormat(view, body, size, name);
    } else if (id === 'data') {
      if (!format) throw new DataError(name, 'data chunk comes before any fmt chunk');
      if (size > present) throw new DataError(name, `truncated data chunk (declares ${size} bytes, ${present} present)`);
      return decode(view, body, size, format, name);
    }
    at = body + size + (size & 1);
  }
  throw new DataError(name, format ? 'no data chunk' : 'no fmt chunk');
}

function parseFormat(view: DataView, at: number, size: number, name: string): Format {
  if (size < 16) throw new DataError(name, `fmt chunk of ${size} bytes is shorter than the 16 it needs`);
  let code = view.getUint16(at, true);
  const channels = view.getUint16(at + 2, true);
  const sampleRate = view.getUint32(at + 4, true);
  const blockAlign = view.getUint16(at + 12, true);
  const bits = view.getUint16(at + 14, true);
  if (code === WAVE_FORMAT_EXTENSIBLE) {
    // The real format code is the first two bytes of the SubFormat GUID, 24 bytes into the chunk.
    if (size < 40) throw new DataError(name, `extensible fmt chunk of ${size} bytes is shorter than the 40 it needs`);
    code = view.getUint16(at + 24, true);
  }
  const readers = code === WAVE_FORMAT_PCM ? PCM_READERS : code === WAVE_FORMAT_IEEE_FLOAT ? FLOAT_READERS : undefined;
  if (!readers) throw new DataError(name, `unsupported audio format code ${code} (only PCM 1 and IEEE float 3)`);
  if (!readers[bits]) {
    const kinds = Object.keys(readers).join('/');
    throw new DataError(name, `unsupported ${code === WAVE_FORMAT_PCM ? 'PCM' : 'float'} bit depth ${bits} (supported: ${kinds})`);
  }
  if (channels === 0) throw new DataError(name, 'fmt chunk declares 0 channels');
  if (!(sampleRate >= MIN_SAMPLE_RATE && sampleRate <= MAX_SAMPLE_RATE)) {
    throw new DataError(name, `fmt chunk declares a sample rate of ${sampleRate} Hz, outside ${MIN_SAMPLE_RATE}..${MAX_SAMPLE_RATE} Hz`);
  }
  if (blockAlign !== (channels * bits) / 8) {
    throw new DataError(name, `block align ${blockAlign} does not match ${channels} channels x ${bits} bits`);
  }
  return { code, channels, sampleRate, bits, blockAlign };
}

function decode(view: DataView, at: number, size: number, f: Format, name: string): Wav {
  if (size % f.blockAlign !== 0) {
    throw new DataError(name, `data chunk of ${size} bytes is not a whole number of ${f.blockAlign}-byte frames`);
  }
  const read = (f.code === WAVE_FORMAT_PCM ? PCM_READERS : FLOAT_READERS)[f.bits];
  const step = f.bits / 8;
  const frames = size / f.blockAlign;
  const samples = new Float32Array(frames);
  for (let i = 0, b = at; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < f.channels; c++, b += step) sum += read(view, b);
    const mean = sum / f.channels;
    if (!Number.isFinite(mean)) throw new DataError(name, `non-finite sample at frame ${i}`);
    // Float WAV may legally exceed full scale; clip so every format lands in [-1, 1].
    samples[i] = mean > 1 ? 1 : mean < -1 ? -1 : mean;
  }
  return { sampleRate: f.sampleRate, channels: f.channels, samples };
}
