/**
 * Hutchinson's diagonal and Hutch++ on explicit symmetric matrices (float64), where the exact
 * diagonal and trace are known: the estimators' defining properties (exact where their variance
 * vanishes, unbiased within standard errors, Hutch++'s O(1/m) error beating Hutchinson's).
 */
import { describe, expect, it } from 'vitest';
import { hutchinsonDiagonal, hutchinsonTrace, hutchPlusPlus, type SymmetricOperator } from '../../src/analysis/index.js';
import { Rng } from '../../src/nd/rng.js';

/** A = U diag(λ) Uᵀ with a random orthogonal U (Gram-Schmidt of Gaussian columns). */
function matrix(lambda: number[], seed: number): number[][] {
  const n = lambda.length;
  const rng = new Rng(seed);
  const U: number[][] = [];
  for (let j = 0; j < n; j++) {
    const u = Array.from({ length: n }, () => rng.normal());
    for (const q of U) {
      const c = q.reduce((s, v, i) => s + v * u[i], 0);
      q.forEach((v, i) => (u[i] -= c * v));
    }
    const norm = Math.hypot(...u);
    U.push(u.map((v) => v / norm));
  }
  return Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => U.reduce((s, u, k) => s + lambda[k] * u[i] * u[j], 0)));
}

function operator(a: number[][]): SymmetricOperator & { products: number } {
  const op = {
    dim: a.length,
    products: 0,
    apply(v: Float64Array, out: Float64Array) {
      op.products++;
      a.forEach((row, i) => (out[i] = row.reduce((s, x, j) => s + x * v[j], 0)));
    },
  };
  return op;
}

const traceOf = (a: number[][]) => a.reduce((s, row, i) => s + row[i], 0);

describe('Hutchinson diagonal: E[z ⊙ Az] = diag A', () => {
  it('is exact in one probe for a diagonal matrix (its variance Σ_{j≠i} A_ij² is 0)', () => {
    const d = [3, -1, 0.5, 2];
    const a = d.map((v, i) => d.map((_, j) => (i === j ? v : 0)));
    expect(Array.from(hutchinsonDiagonal(operator(a), { probes: 1 }).diagonal)).toEqual(d);
  });

  it('every entry lies within 4 standard errors of the exact diagonal, and the errors shrink as 1/√probes', () => {
    const a = matrix(Array.from({ length: 30 }, (_, i) => 1 / (i + 1) - 0.2), 5);
    const few = hutchinsonDiagonal(operator(a), { probes: 50, seed: 2 });
    const many = hutchinsonDiagonal(operator(a), { probes: 800, seed: 3 });
    for (const e of [few, many]) a.forEach((row, i) => expect(Math.abs(e.diagonal[i] - row[i])).toBeLessThan(4 * e.stdError[i]));
    const ratio = many.stdError.reduce((s, v) => s + v, 0) / few.stdError.reduce((s, v) => s + v, 0);
    expect(ratio).toBeGreaterThan(0.25 * 0.8);
    expect(ratio).toBeLessThan(0.25 * 1.25);
  });

  it('refuses a bad probe count and a non-finite product', () => {
    expect(() => hutchinsonDiagonal(operator([[1]]), { probes: 0 })).toThrow(/probes must be a positive integer/);
    const bad: SymmetricOperator = { dim: 2, apply: (_v, out) => void out.fill(NaN) };
    expect(() => hutchinsonDiagonal(bad)).toThrow(/non-finite product at probe 1/);
  });
});

describe('Hutch++: tr(QᵀAQ) on the captured subspace + Hutchinson on the rest', () => {
  it('is exact when the rank is at most m/3 (the captured part is everything, the rest 0)', () => {
    const a = matrix([5, -2, 1, ...Array(17).fill(0)], 4);
    const e = hutchPlusPlus(operator(a), { products: 9 });
    expect(Math.abs(e.trace - traceOf(a))).toBeLessThan(1e-12);
    expect(Math.abs(e.residual)).toBeLessThan(1e-12);
    expect(e.products).toBe(9);
  });

  it('on a spectrum with a few large outliers, beats Hutchinson with the same products (mean error over 20 seeds)', () => {
    const lambda = Array.from({ length: 60 }, (_, i) => (i < 4 ? 50 / (i + 1) : 0.05 * Math.cos(i)));
    const a = matrix(lambda, 6);
    const exact = traceOf(a);
    let [hpp, hutch] = [0, 0];
    for (let seed = 1; seed <= 20; seed++) {
      hpp += Math.abs(hutchPlusPlus(operator(a), { products: 30, seed }).trace - exact);
      hutch += Math.abs(hutchinsonTrace(operator(a), { maxProbes: 30, seed }).trace - exact);
    }
    expect(hpp).toBeLessThan(0.2 * hutch);
  });

  it('refuses fewer than 3 products', () => {
    expect(() => hutchPlusPlus(operator([[1]]), { products: 2 })).toThrow(/products must be an integer ≥ 3/);
  });
});
