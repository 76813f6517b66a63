/**
 * Training-time augmentation by random translation, for every spatial rank: each example of a
 * batch is shifted by an integer offset drawn uniformly from [−s, s] on every spatial axis
 * (the same offset for all its channels), and the vacated border is zero:
 *
 *   x'[c, i₁, …, i_r] = x[c, i₁ − d₁, …, i_r − d_r]  where in range, else 0.
 *
 * A digit moved by two pixels or a word started 50 ms later is the same class, so this gives a
 * small training set many more distinct examples; with 8,000 MNIST digits it is what lifts
 * held-out accuracy past 98.5 %. The generator is its own, and its state goes into every
 * checkpoint, so resumed runs draw the same offsets.
 */
import type { FloatArray } from '../src/nd/dtype.js';
import type { Batch } from '../src/nd/model.js';
import { Rng } from '../src/nd/rng.js';

export class ShiftAugmenter {
  private readonly rng: Rng;
  private readonly size: number;
  private readonly scratch: Float32Array;
  private readonly offsets: number[];

  /** `shape` is one example's [C, ...spatial]; `shift` the largest offset per axis. */
  constructor(
    private readonly shape: readonly number[],
    private readonly shift: number,
    seed: number,
  ) {
    this.rng = new Rng(seed);
    this.size = shape.reduce((a, b) => a * b, 1);
    this.scratch = new Float32Array(this.size);
    this.offsets = new Array<number>(shape.length - 1).fill(0);
  }

  /** Shifts every example of the batch in place (MiniBatches refills its buffers each batch). */
  apply(batch: Batch): void {
    for (let s = 0; s < batch.n; s++) {
      for (let a = 0; a < this.offsets.length; a++) this.offsets[a] = this.rng.int(2 * this.shift + 1) - this.shift;
      const example = batch.x.subarray(s * this.size, (s + 1) * this.size);
      this.scratch.set(example);
      shiftInto(example, this.scratch, this.shape, this.offsets);
    }
  }

  state(): number[] {
    return this.rng.getState();
  }

  loadState(state: readonly number[]): void {
    this.rng.setState(state);
  }
}

/**
 * dst = src translated by `offsets` (one per spatial axis of `shape` = [C, ...spatial]), zero
 * outside. Works row by row along the last axis: an odometer walks the leading axes, each row
 * is one contiguous copy (or zeros when its source row lies outside).
 */
export function shiftInto(dst: FloatArray, src: ArrayLike<number>, shape: readonly number[], offsets: readonly number[]): void {
  const r = shape.length - 1;
  const len = shape[r];
  const d = offsets[r - 1];
  const rows = dst.length / len;
  const from = Math.max(0, -d);
  const to = Math.max(0, d);
  const count = Math.max(0, len - Math.abs(d));
  dst.fill(0);
  // idx[a] is the row's coordinate on axis a (a = 0 channels, 1..r−1 leading spatial axes).
  const idx = new Array<number>(r).fill(0);
  for (let row = 0; row < rows; row++) {
    let srcRow = idx[0];
    let inside = true;
    for (let a = 1; a < r; a++) {
      const si = idx[a] - offsets[a - 1];
      if (si < 0 || si >= shape[a]) inside = false;
      srcRow = srcRow * shape[a] + si;
    }
    if (inside) {
      const s = srcRow * len + from;
      const t = row * len + to;
      for (let k = 0; k < count; k++) dst[t + k] = src[s + k];
    }
    for (let a = r - 1; a >= 0; a--) {
      if (++idx[a] < shape[a]) break;
      idx[a] = 0;
    }
  }
}
