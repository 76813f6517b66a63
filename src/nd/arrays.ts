/**
 * The one rule for vectors crossing the public API: any array-like of numbers is accepted
 * (Float32Array, Float64Array, number[], the integer typed arrays) and converted to the dtype the
 * computation runs in; anything else is refused with a TypeError naming the entry point, the
 * argument and what it got. Outputs (gradients, Hv, Gv) are written into a Float32Array,
 * Float64Array or number[] of the right length, through a scratch vector when its type is not
 * the computation's own.
 */
import { allocate, dtypeOf, type DType, type FloatArray } from './dtype.js';
import { ShapeError } from './shape.js';

/** What an input vector may be: anything indexable with a numeric length. */
export type Numbers = ArrayLike<number>;

export function isFloatArray(a: unknown): a is FloatArray {
  return a instanceof Float32Array || a instanceof Float64Array;
}

/** "Float32Array(10)", "number[3]", "string": what a caller passed, for error messages. */
export function describeValue(a: unknown): string {
  if (a === null) return 'null';
  if (Array.isArray(a)) return `array(${a.length})`;
  if (ArrayBuffer.isView(a)) return `${a.constructor.name}(${(a as unknown as { length?: number }).length ?? a.byteLength})`;
  if (typeof a === 'object') return `${a.constructor?.name ?? 'object'}${'length' in a ? `(length ${String(a.length)})` : ''}`;
  return typeof a;
}

/**
 * Checks that `a` is an array-like of numbers: a typed array (not BigInt, not DataView), or an
 * array/array-like whose every element is a number.
 */
export function checkNumbers(where: string, what: string, a: unknown): asserts a is Numbers {
  const refuse = () =>
    new TypeError(`${where}: ${what} must be an array of numbers (Float32Array, Float64Array, number[], ...), got ${describeValue(a)}`);
  if (ArrayBuffer.isView(a)) {
    if (a instanceof DataView || a instanceof BigInt64Array || a instanceof BigUint64Array) throw refuse();
    return;
  }
  if (typeof a !== 'object' || a === null || typeof a === 'function') throw refuse();
  const length = (a as { length?: unknown }).length;
  if (!(Number.isInteger(length) && (length as number) >= 0)) throw refuse();
  const v = a as ArrayLike<unknown>;
  for (let i = 0; i < v.length; i++) {
    const e = v[i];
    if (typeof e !== 'number') {
      const shown = typeof e === 'string' ? JSON.stringify(e) : typeof e === 'object' && e !== null ? describeValue(e) : String(e);
      throw new TypeError(`${where}: ${what}[${i}] is ${shown}, not a number`);
    }
  }
}

/** `a` as a FloatArray of `dtype`: `a` itself when it already is one, else a converted copy. */
export function toFloat(where: string, what: string, a: unknown, dtype: DType): FloatArray {
  if (isFloatArray(a) && dtypeOf(a) === dtype) return a;
  checkNumbers(where, what, a);
  const out = allocate(dtype, a.length);
  out.set(a);
  return out;
}

/** Throws when `a` holds NaN or ±Infinity, naming the first such element. */
export function checkFinite(where: string, what: string, a: Numbers): void {
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) throw new RangeError(`${where}: ${what}[${i}] is ${a[i]}; only finite numbers are allowed`);
  }
}

export function checkLength(where: string, what: string, a: Numbers, length: number, meaning: string): void {
  if (a.length !== length) throw new ShapeError(`${where}: ${what} has ${a.length} values, ${meaning} ${length}`);
}

/** A writable output vector. */
export type Output = FloatArray | number[];

/**
 * Where to compute an output of `dtype` and `length` that belongs in `out`: `out` itself when it
 * is such a FloatArray, else a scratch vector that `finish()` copies into `out`.
 */
export function outputVector(where: string, what: string, out: unknown, length: number, dtype: DType, meaning: string) {
  if (!isFloatArray(out) && !Array.isArray(out)) {
    throw new TypeError(`${where}: ${what} (an output) must be a Float32Array, Float64Array or number[], got ${describeValue(out)}`);
  }
  checkLength(where, what, out, length, meaning);
  const direct = isFloatArray(out) && dtypeOf(out) === dtype;
  const buf = direct ? out : allocate(dtype, length);
  const finish = () => {
    if (direct) return;
    if (Array.isArray(out)) for (let i = 0; i < length; i++) out[i] = buf[i];
    else out.set(buf);
  };
  return { buf, finish };
}
