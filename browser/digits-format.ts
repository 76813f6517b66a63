/**
 * The demo's digits file, digits.bin: a JSON header line, then the labels of the training and
 * held-out digits (one byte each), then their pixels (784 bytes each, k for the value k/255).
 * Written at build time by digits.ts; read by the page.
 */
export const SIDE = 28;
export const PIXELS = SIDE * SIDE;

export interface DigitsHeader {
  train: number;
  test: number;
  side: number;
  source: string;
}

export interface Digits {
  x: Float32Array;
  y: Int32Array;
}

/** Labels and pixels in [0, 1] of both sets, from the file's bytes. */
export function readDigits(bytes: Uint8Array): { header: DigitsHeader; train: Digits; test: Digits } {
  const newline = bytes.indexOf(10);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(0, newline))) as DigitsHeader;
  const body = bytes.subarray(newline + 1);
  const n = header.train + header.test;
  if (body.length !== n * (1 + PIXELS)) throw new Error(`digits.bin: ${body.length} bytes after the header, ${n} digits need ${n * (1 + PIXELS)}`);
  const part = (start: number, count: number) => ({
    y: Int32Array.from(body.subarray(start, start + count)),
    x: Float32Array.from(body.subarray(n + start * PIXELS, n + (start + count) * PIXELS), (v) => v / 255),
  });
  return { header, train: part(0, header.train), test: part(header.train, header.test) };
}
