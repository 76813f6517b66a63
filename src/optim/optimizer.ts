/**
 * The one interface every optimizer implements, so experiments swap them by name (see
 * registry.ts), and the helpers that keep their state JSON-serialisable.
 */
import type { FloatArray } from '../nd/dtype.js';
import type { AsyncModel, Batch, Model } from '../nd/model.js';

/** What every step reports; each optimizer adds its own fields. */
export interface StepReport {
  /** Loss on the step's batch at the parameters *before* the step (weight cost included). */
  readonly loss: number;
  /** Whether the parameters changed. */
  readonly accepted: boolean;
}

export interface Optimizer<R extends StepReport = StepReport> {
  readonly name: string;
  /** One update of model.params in place, from one batch. */
  step(model: Model, batch: Batch): R;
  /**
   * step() for a model whose passes resolve later (a Network on WebGPU; `train` calls it there).
   * Optimizers without it train only models that read back synchronously.
   */
  stepAsync?(model: AsyncModel, batch: Batch): Promise<R>;
  /**
   * Everything a resumed run needs to continue exactly (step counters, damping, momentum,
   * warm starts), as plain JSON: vectors are number[] (every float32 and float64 value is a
   * double, and JSON writes doubles exactly), never typed arrays.
   */
  state(): unknown;
  loadState(state: unknown): void;
}

/** A vector as a JSON-safe number[] (null stays null). */
export function vectorToJson(v: FloatArray | null): number[] | null {
  return v === null ? null : Array.from(v);
}

/** Reads a state object written by `state()`, naming the optimizer and field when it does not fit. */
export function readState(owner: string, state: unknown): Record<string, unknown> {
  if (typeof state !== 'object' || state === null || (state as { optimizer?: unknown }).optimizer !== owner) {
    const got = typeof state === 'object' && state !== null ? (state as { optimizer?: unknown }).optimizer : state;
    throw new Error(`${owner}.loadState: expected a state with optimizer '${owner}', got ${JSON.stringify(got)}`);
  }
  return state as Record<string, unknown>;
}

export function readNumber(owner: string, s: Record<string, unknown>, key: string): number {
  const v = s[key];
  if (typeof v !== 'number' || !Number.isFinite(v)) {
    throw new Error(`${owner}.loadState: '${key}' must be a finite number, got ${JSON.stringify(v)}`);
  }
  return v;
}

/** A step counter from a saved state: schedules index by it, so a negative or fractional one is refused. */
export function readCount(owner: string, s: Record<string, unknown>, key: string): number {
  const v = readNumber(owner, s, key);
  if (!Number.isSafeInteger(v) || v < 0) throw new Error(`${owner}.loadState: '${key}' must be a whole number ≥ 0, got ${v}`);
  return v;
}

export function readVector(owner: string, s: Record<string, unknown>, key: string): number[] | null {
  const v = s[key];
  if (v === null || v === undefined) return null;
  if (!Array.isArray(v) || !v.every((e) => typeof e === 'number' && Number.isFinite(e))) {
    throw new Error(`${owner}.loadState: '${key}' must be null or an array of finite numbers`);
  }
  return v as number[];
}

/** Copies a loaded number[] into a live vector, checking the length against the model's. */
export function restoreVector(owner: string, key: string, from: readonly number[], to: FloatArray): void {
  if (from.length !== to.length) {
    throw new Error(`${owner}: saved '${key}' has length ${from.length}, the model has ${to.length} parameters`);
  }
  // Finite in the file is not enough: 1e39 would be Infinity in a float32 model's vector.
  const bad = to instanceof Float32Array ? from.findIndex((v) => !Number.isFinite(Math.fround(v))) : -1;
  if (bad >= 0) throw new Error(`${owner}: saved '${key}' holds ${from[bad]} at element ${bad}, which overflows float32`);
  to.set(from);
}
