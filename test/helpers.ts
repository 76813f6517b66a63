/** Shared test tools: seeded data, central finite differences, relative error. */
import type { FloatArray } from '../src/nd/dtype.js';
import type { Batch, Model } from '../src/nd/model.js';
import { Rng } from '../src/nd/rng.js';

export function randn(rng: Rng, n: number, scale = 1): Float64Array {
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = scale * rng.normal();
  return a;
}

/** ‖a − b‖ / max(‖a‖, ‖b‖, tiny): scale-free, so one bound serves every layer and rank. */
export function relError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    d += (a[i] - b[i]) ** 2;
    na += a[i] ** 2;
    nb += b[i] ** 2;
  }
  return Math.sqrt(d) / Math.max(Math.sqrt(na), Math.sqrt(nb), 1e-300);
}

/**
 * Central differences (f(θ+h) − f(θ−h)) / 2h of a scalar function of a vector, in float64.
 * Truncation error is O(h²·f''') ≈ 1e-10 at h = 1e-5 and rounding error O(ε/h) ≈ 1e-11, so an
 * exact gradient agrees to ~1e-8 relative; the tests' bound of 1e-6 leaves a 100× margin while
 * any wrong term (a missing sum, a flipped index) shows up at O(1).
 */
export function numericGradient(f: () => number, theta: FloatArray, h = 1e-5): Float64Array {
  const g = new Float64Array(theta.length);
  for (let i = 0; i < theta.length; i++) {
    const t = theta[i];
    theta[i] = t + h;
    const fp = f();
    theta[i] = t - h;
    const fm = f();
    theta[i] = t;
    g[i] = (fp - fm) / (2 * h);
  }
  return g;
}

/** Central differences of the gradient along v: (∇f(θ+hv) − ∇f(θ−hv)) / 2h ≈ Hv. */
export function numericHv(model: Model, batch: Batch, v: ArrayLike<number>, h = 1e-5): Float64Array {
  const p = model.params;
  const p0 = p.slice();
  const gp = new Float64Array(p.length);
  const gm = new Float64Array(p.length);
  for (let i = 0; i < p.length; i++) p[i] = p0[i] + h * v[i];
  model.gradient(batch, gp);
  for (let i = 0; i < p.length; i++) p[i] = p0[i] - h * v[i];
  model.gradient(batch, gm);
  p.set(p0);
  return gp.map((x, i) => (x - gm[i]) / (2 * h));
}

/** A classification batch of n samples with seeded inputs and labels. */
export function randomBatch(rng: Rng, inShape: readonly number[], n: number, classes: number): Batch {
  const size = inShape.reduce((a, b) => a * b, 1);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) y[i] = rng.int(classes);
  return { x: randn(rng, n * size), y, n };
}
