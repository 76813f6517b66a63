/** Flat-vector helpers: parameters, gradients, directions, Hv and Gv all share one layout. */
import type { FloatArray } from './dtype.js';

export function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

export function norm(a: ArrayLike<number>): number {
  return Math.sqrt(dot(a, a));
}

/** y += alpha * x */
export function axpy(y: FloatArray, alpha: number, x: ArrayLike<number>): void {
  for (let i = 0; i < y.length; i++) y[i] += alpha * x[i];
}

/** out = x * alpha */
export function scale(out: FloatArray, x: ArrayLike<number>, alpha: number): void {
  for (let i = 0; i < out.length; i++) out[i] = x[i] * alpha;
}

/** out = a + alpha * b */
export function addScaled(out: FloatArray, a: ArrayLike<number>, alpha: number, b: ArrayLike<number>): void {
  for (let i = 0; i < out.length; i++) out[i] = a[i] + alpha * b[i];
}

export function allFinite(a: ArrayLike<number>): boolean {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return false;
  return true;
}

export function like(a: FloatArray): FloatArray {
  return new (a.constructor as { new (n: number): FloatArray })(a.length);
}

export function clone(a: FloatArray): FloatArray {
  return a.slice() as FloatArray;
}
