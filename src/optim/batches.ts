/**
 * Mini-batches with seeded shuffling. Each epoch draws a fresh permutation from the Rng and copies
 * the samples of each batch into two preallocated buffers (shared memory, which a network's threads
 * read in place), so iterating allocates no sample memory.
 *
 * - A last partial batch is KEPT: an epoch of n samples yields ⌈n/B⌉ batches, the last one with
 *   n − B·(⌈n/B⌉ − 1) samples (a view of the first rows of the same buffers).
 * - The yielded Batch object and its buffers are reused: a batch is valid until the next is yielded.
 * - The Rng should belong to this iterator alone: `state()` records its state before the shuffle of
 *   the current epoch and `loadState` replays that shuffle, which reproduces order and Rng exactly.
 * - Leaving a `for ... of` over epoch() early leaves the epoch open: the next epoch() call goes on
 *   with its remaining batches.
 */
import { checkNumbers, isFloatArray } from '../nd/arrays.js';
import { sharedMemory, type FloatArray } from '../nd/dtype.js';
import type { Batch } from '../nd/model.js';
import type { Rng } from '../nd/rng.js';

/**
 * n samples: x holds n·sampleSize inputs row-major; y holds n labels or n·targetSize targets.
 * Any array-likes of numbers: batches come as Float32Array or Float64Array x as given (any other
 * x, such as number[] or Uint8Array, as Float64Array, which holds every number exactly), and y as
 * given when it is an Int32Array, Float32Array or Float64Array (else Float64Array).
 */
export interface Samples {
  readonly x: ArrayLike<number>;
  readonly y: ArrayLike<number>;
  readonly sampleSize: number;
}

export interface MiniBatchState {
  /**
   * The Rng's state before the shuffle of the epoch in progress (cursor > 0), or before the
   * shuffle of the next epoch (cursor = 0, between epochs).
   */
  readonly rng: number[];
  /** Epochs begun so far. */
  readonly epoch: number;
  /** Batches of the epoch in progress already yielded; 0 between epochs. */
  readonly cursor: number;
}

export class MiniBatches {
  readonly n: number;
  readonly batchSize: number;
  private readonly targetSize: number;
  private readonly order: Int32Array;
  private readonly full: Batch;
  private readonly partial: Batch | null;
  private epochRng: number[] = [];
  private epochs = 0;
  private cursor = 0;
  private inEpoch = false;

  constructor(
    private readonly data: Samples,
    batchSize: number,
    private readonly rng: Rng,
  ) {
    if (typeof data !== 'object' || data === null) throw new TypeError(`MiniBatches: data must be {x, y, sampleSize}, got ${String(data)}`);
    const { x, y, sampleSize } = data;
    checkNumbers('MiniBatches', 'x', x);
    checkNumbers('MiniBatches', 'y', y);
    if (!(Number.isInteger(sampleSize) && sampleSize > 0) || x.length % sampleSize !== 0) {
      throw new Error(`MiniBatches: x has ${x.length} values, not a whole number of samples of size ${sampleSize}`);
    }
    this.n = x.length / sampleSize;
    if (this.n === 0 || y.length % this.n !== 0) {
      throw new Error(`MiniBatches: ${this.n} samples but y has ${y.length} values`);
    }
    if (!(Number.isInteger(batchSize) && batchSize > 0)) {
      throw new Error(`MiniBatches: batchSize must be a positive integer, got ${batchSize}`);
    }
    this.targetSize = y.length / this.n;
    this.batchSize = Math.min(batchSize, this.n);
    this.order = new Int32Array(this.n);
    // Shared memory: a network's threads read the batch where it is (src/parallel).
    const xs = shared(isFloatArray(x) ? (x.constructor as Typed<FloatArray>) : Float64Array, this.batchSize * sampleSize);
    const ys = shared(y instanceof Int32Array || isFloatArray(y) ? (y.constructor as Typed<Int32Array | FloatArray>) : Float64Array, this.batchSize * this.targetSize);
    this.full = { x: xs, y: ys, n: this.batchSize };
    const rest = this.n % this.batchSize;
    this.partial =
      rest === 0 ? null : { x: xs.subarray(0, rest * sampleSize), y: ys.subarray(0, rest * this.targetSize), n: rest };
  }

  /** ⌈n / B⌉: the last partial batch counts. */
  get batchesPerEpoch(): number {
    return Math.ceil(this.n / this.batchSize);
  }

  /**
   * The batches of one epoch in a new shuffled order; after loadState mid-epoch, the rest of
   * that epoch in its original order.
   */
  *epoch(): Generator<Batch, void, undefined> {
    if (!this.inEpoch) {
      this.epochRng = this.rng.getState();
      this.shuffle();
      this.epochs++;
      this.cursor = 0;
      this.inEpoch = true;
    }
    const count = this.batchesPerEpoch;
    while (this.cursor < count) {
      const batch = this.fill(this.cursor);
      this.cursor++;
      yield batch;
    }
    this.inEpoch = false;
    this.cursor = 0;
  }

  state(): MiniBatchState {
    const rng = this.inEpoch ? this.epochRng : this.rng.getState();
    return { rng: [...rng], epoch: this.epochs, cursor: this.inEpoch ? this.cursor : 0 };
  }

  loadState(s: MiniBatchState): void {
    if (!(Number.isInteger(s.cursor) && s.cursor >= 0 && s.cursor <= this.batchesPerEpoch)) {
      throw new Error(`MiniBatches.loadState: cursor ${s.cursor} outside 0..${this.batchesPerEpoch}`);
    }
    this.epochs = s.epoch;
    this.inEpoch = s.cursor > 0;
    this.cursor = s.cursor;
    this.rng.setState(s.rng);
    this.epochRng = [...s.rng];
    // Replaying the epoch's shuffle rebuilds its order and leaves the Rng where it was.
    if (this.inEpoch) this.shuffle();
  }

  private shuffle(): void {
    const order = this.order;
    for (let i = 0; i < order.length; i++) order[i] = i;
    this.rng.shuffle(order);
  }

  /** Copies the samples of batch `index` of the current order into the reused buffers. */
  private fill(index: number): Batch {
    const start = index * this.batchSize;
    const batch = start + this.batchSize <= this.n ? this.full : (this.partial as Batch);
    const { x, y, sampleSize } = this.data;
    const t = this.targetSize;
    const bx = batch.x;
    const by = batch.y;
    for (let b = 0; b < batch.n; b++) {
      const s = this.order[start + b];
      for (let k = 0, from = s * sampleSize, to = b * sampleSize; k < sampleSize; k++) bx[to + k] = x[from + k];
      for (let k = 0; k < t; k++) by[b * t + k] = y[s * t + k];
    }
    return batch;
  }
}

type Typed<T> = { new (b: ArrayBuffer): T; BYTES_PER_ELEMENT: number };

function shared<T>(Type: Typed<T>, length: number): T {
  return new Type(sharedMemory(length * Type.BYTES_PER_ELEMENT));
}
