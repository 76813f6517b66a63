/**
 * What the threads of a pass share: control words for commands and barriers, and the all-reduce
 * that batch normalisation's per-channel sums go through. Every participant of a pass runs the
 * same layers in the same order, so they meet at the same barriers; a thread that fails sets
 * ABORT, and every waiter then throws instead of waiting for it.
 *
 * The all-reduce sums the participants' vectors in rank order (0, 1, …, P−1) in every thread, so
 * all of them hold the same bits and the result depends only on the thread count.
 */
import type { Reduce } from '../layers/passes.js';

/** Indices into the control Int32Array. MAILBOX + r is worker r's command counter. */
export const Word = {
  /** Workers that finished the current command. */
  Done: 0,
  BarrierCount: 1,
  BarrierGeneration: 2,
  Abort: 3,
  /** Workers that started (or failed to start). */
  Ready: 4,
  Mailbox: 8,
} as const;

/** Thrown in a thread whose pass was abandoned because another thread failed. */
export class Aborted extends Error {
  constructor() {
    super('another thread of this pass failed');
  }
}

/** Waiting spins this many times before it sleeps: a futex wake costs more than a short spin. */
const SPINS = 2000;
/** How long one sleep lasts before Abort is looked at again (ms). */
const NAP_MS = 50;

/** Waits while ctrl[i] === value; throws Aborted when the pass is abandoned. */
export function waitWhile(ctrl: Int32Array, i: number, value: number): void {
  for (let k = 0; k < SPINS; k++) if (Atomics.load(ctrl, i) !== value) return;
  while (Atomics.load(ctrl, i) === value) {
    if (Atomics.load(ctrl, Word.Abort)) throw new Aborted();
    Atomics.wait(ctrl, i, value, NAP_MS);
  }
}

/** Abandons the current pass: every thread waiting at a barrier wakes and throws Aborted. */
export function abort(ctrl: Int32Array): void {
  Atomics.store(ctrl, Word.Abort, 1);
  Atomics.add(ctrl, Word.BarrierGeneration, 1);
  Atomics.notify(ctrl, Word.BarrierGeneration);
}

/** Returns once all `parties` threads have arrived. */
export function barrier(ctrl: Int32Array, parties: number): void {
  const generation = Atomics.load(ctrl, Word.BarrierGeneration);
  if (Atomics.add(ctrl, Word.BarrierCount, 1) === parties - 1) {
    Atomics.store(ctrl, Word.BarrierCount, 0);
    Atomics.add(ctrl, Word.BarrierGeneration, 1);
    Atomics.notify(ctrl, Word.BarrierGeneration);
  } else {
    waitWhile(ctrl, Word.BarrierGeneration, generation);
  }
  if (Atomics.load(ctrl, Word.Abort)) throw new Aborted();
}

/**
 * The all-reduce of thread `rank` of `parties`, through `area`: one row of `stride` values a
 * thread (stride ≥ the longest vector reduced). Single-threaded passes use no Reduce at all.
 */
export function allReduce(ctrl: Int32Array, area: Float64Array, stride: number, rank: number, parties: number): Reduce {
  return (v) => {
    if (v.length > stride) throw new RangeError(`allReduce: ${v.length} values, the area holds ${stride} a thread`);
    area.set(v, rank * stride);
    barrier(ctrl, parties);
    for (let c = 0; c < v.length; c++) {
      let s = 0;
      for (let q = 0; q < parties; q++) s += area[q * stride + c];
      v[c] = s;
    }
    // Nobody may overwrite its row before everyone has read every row.
    barrier(ctrl, parties);
  };
}

/** A worker's reply: a command's scalar result, or the message of what failed. */
export type Reply = { value: number } | { error: string; aborted?: boolean };

/**
 * The calling thread's share of a pass while `workers` workers run theirs: runs `local`, aborts
 * the pass for all if it throws, and waits until every worker has counted itself done. Returns
 * what `local` threw, or null.
 */
export function runBeside(ctrl: Int32Array, workers: number, local: () => void): unknown {
  let failure: unknown = null;
  try {
    local();
  } catch (e) {
    failure = e;
    abort(ctrl);
  }
  for (let done; (done = Atomics.load(ctrl, Word.Done)) < workers; ) Atomics.wait(ctrl, Word.Done, done);
  return failure;
}

/**
 * The end of a pass on every thread (pool.ts, web-pool.ts): clears the pass's control words and
 * throws the first cause of a failure (`local`'s, or a worker's other than giving up because of
 * another), else returns the workers' replies.
 */
export function settlePass(ctrl: Int32Array, replies: Reply[], local: unknown): Reply[] {
  Atomics.store(ctrl, Word.Abort, 0);
  Atomics.store(ctrl, Word.BarrierCount, 0);
  // The first cause, not a thread that gave up because of it.
  if (local && !(local instanceof Aborted)) throw local;
  const failed = replies.findIndex((r) => 'error' in r && !r.aborted);
  if (failed >= 0) throw new Error(`thread ${failed + 1}: ${(replies[failed] as { error: string }).error}`);
  if (local) throw local;
  return replies;
}
