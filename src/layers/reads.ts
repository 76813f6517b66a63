/**
 * Read points. A pass is written once, as a generator that yields the tensors it must see on the
 * host at that point (the outputs for the loss, R{z} for H_L, the gradient slices at the end) and
 * is resumed with their contents. `runSync` answers each yield with `download` at once — the CPU
 * and gpu.js backends, same arithmetic, same order, one generator per pass; `runAsync` awaits a
 * backend whose reads resolve later (WebGPU), which meanwhile runs the work recorded before them.
 */
import type { AsyncReads, Backend, Tensor } from '../nd/backend.js';
import type { FloatArray } from '../nd/dtype.js';

/** A computation that pauses at each group of tensors it reads, resumed with their host copies. */
export type Reads<T> = Generator<Tensor[], T, FloatArray[]>;

export function runSync<T>(backend: Backend, g: Reads<T>): T {
  let r = g.next();
  while (!r.done) r = g.next(r.value.map((t) => backend.download(t)));
  return r.value;
}

export async function runAsync<T>(backend: Backend & AsyncReads, g: Reads<T>): Promise<T> {
  let r = g.next();
  while (!r.done) {
    let values: FloatArray[];
    try {
      values = await backend.readAll(r.value);
    } catch (e) {
      // Into the generator, so its finally blocks free what the pass holds.
      r = g.throw(e);
      continue;
    }
    r = g.next(values);
  }
  return r.value;
}

/** One tensor's host copy (a read point of one tensor). */
export function* read(t: Tensor): Reads<FloatArray> {
  return (yield [t])[0];
}
