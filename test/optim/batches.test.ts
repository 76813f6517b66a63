import { describe, expect, it } from 'vitest';
import type { Batch } from '../../src/nd/model.js';
import { Rng } from '../../src/nd/rng.js';
import { MiniBatches, type Samples } from '../../src/optim/batches.js';

/** Sample i has inputs [i, i + 0.5] and label i % 7, so a batch row names its sample. */
function dataset(n: number): Samples {
  const x = new Float64Array(2 * n);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    x[2 * i] = i;
    x[2 * i + 1] = i + 0.5;
    y[i] = i % 7;
  }
  return { x, y, sampleSize: 2 };
}

/** The sample indices of a batch, checking every row and label against its sample. */
function indices(b: Batch): number[] {
  const out: number[] = [];
  for (let r = 0; r < b.n; r++) {
    const i = b.x[2 * r];
    expect(b.x[2 * r + 1]).toBe(i + 0.5);
    expect(b.y[r]).toBe(i % 7);
    out.push(i);
  }
  return out;
}

describe('mini-batches', () => {
  it('an epoch is a permutation of the data, with the last partial batch kept', () => {
    const mb = new MiniBatches(dataset(23), 5, new Rng(1));
    expect(mb.batchesPerEpoch).toBe(5);
    const sizes: number[] = [];
    const seen: number[] = [];
    for (const b of mb.epoch()) {
      sizes.push(b.n);
      seen.push(...indices(b));
    }
    expect(sizes).toEqual([5, 5, 5, 5, 3]);
    expect([...seen].sort((a, b) => a - b)).toEqual(Array.from({ length: 23 }, (_, i) => i));
    expect(seen).not.toEqual(Array.from({ length: 23 }, (_, i) => i)); // it did shuffle
  });

  it('same seed, same order; new epochs and other seeds reshuffle', () => {
    const order = (seed: number, epochs: number) => {
      const mb = new MiniBatches(dataset(40), 8, new Rng(seed));
      const all: number[][] = [];
      for (let e = 0; e < epochs; e++) {
        const one: number[] = [];
        for (const b of mb.epoch()) one.push(...indices(b));
        all.push(one);
      }
      return all;
    };
    const a = order(4, 2);
    expect(order(4, 2)).toEqual(a);
    expect(a[1]).not.toEqual(a[0]);
    expect(order(5, 1)[0]).not.toEqual(a[0]);
  });

  it('reuses its buffers: every full batch is the same object and memory', () => {
    const mb = new MiniBatches(dataset(20), 5, new Rng(2));
    const batches = [...mb.epoch()];
    expect(new Set(batches).size).toBe(1);
    const first = batches[0];
    const xBefore = first.x;
    for (const b of mb.epoch()) expect(b.x).toBe(xBefore);
  });

  it('float targets of several values per sample travel with their sample', () => {
    const n = 9;
    const x = Float32Array.from({ length: n * 3 }, (_, k) => Math.floor(k / 3));
    const y = Float32Array.from({ length: n * 2 }, (_, k) => 10 * Math.floor(k / 2) + (k % 2));
    const mb = new MiniBatches({ x, y, sampleSize: 3 }, 4, new Rng(3));
    for (const b of mb.epoch()) {
      expect(b.x).toBeInstanceOf(Float32Array);
      for (let r = 0; r < b.n; r++) {
        const i = b.x[3 * r];
        expect([b.x[3 * r + 1], b.x[3 * r + 2]]).toEqual([i, i]);
        expect([b.y[2 * r], b.y[2 * r + 1]]).toEqual([10 * i, 10 * i + 1]);
      }
    }
  });

  it('state() / loadState() resumes mid-epoch and between epochs in the same order', () => {
    const run = (mb: MiniBatches, batches: number) => {
      const out: number[] = [];
      while (out.length < batches) {
        for (const b of mb.epoch()) {
          out.push(indices(b)[0]);
          if (out.length === batches) break;
        }
      }
      return out;
    };
    const reference = run(new MiniBatches(dataset(30), 4, new Rng(6)), 40);
    for (const cut of [3, 8, 16, 19]) {
      const first = new MiniBatches(dataset(30), 4, new Rng(6));
      const head = run(first, cut);
      const saved = JSON.parse(JSON.stringify(first.state()));
      const resumed = new MiniBatches(dataset(30), 4, new Rng(999)); // its own seed is overwritten
      resumed.loadState(saved);
      expect([...head, ...run(resumed, 40 - cut)]).toEqual(reference);
    }
  });

  it('names the problem with a malformed data set', () => {
    expect(() => new MiniBatches({ x: new Float64Array(7), y: new Int32Array(3), sampleSize: 2 }, 2, new Rng(1))).toThrow(
      /7 values.*size 2/,
    );
    expect(() => new MiniBatches({ x: new Float64Array(6), y: new Int32Array(4), sampleSize: 2 }, 2, new Rng(1))).toThrow(
      /3 samples but y has 4/,
    );
  });
});
