import { describe, expect, it } from 'vitest';
import { Rng } from '../../src/nd/rng.js';
import { ConjugateGradient, MARTENS_EPSILON } from '../../src/optim/cg.js';

/** A dense symmetric matrix as a product, row-major n×n. */
function denseApply(a: Float64Array, n: number) {
  return (v: ArrayLike<number>, out: Float64Array) => {
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += a[i * n + j] * v[j];
      out[i] = s;
    }
  };
}

/** A = B Bᵀ + shift·I with B standard normal: SPD with a spread of eigenvalues. */
function randomSpd(n: number, shift: number, rng: Rng): Float64Array {
  const b = Float64Array.from({ length: n * n }, () => rng.normal());
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += b[i * n + k] * b[j * n + k];
      a[i * n + j] = s + (i === j ? shift : 0);
    }
  }
  return a;
}

/** Gaussian elimination with partial pivoting: the reference solution. */
function solveDense(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const m = a.slice();
  const x = b.slice();
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r * n + c]) > Math.abs(m[p * n + c])) p = r;
    for (let k = 0; k < n; k++) [m[c * n + k], m[p * n + k]] = [m[p * n + k], m[c * n + k]];
    [x[c], x[p]] = [x[p], x[c]];
    for (let r = c + 1; r < n; r++) {
      const f = m[r * n + c] / m[c * n + c];
      for (let k = c; k < n; k++) m[r * n + k] -= f * m[c * n + k];
      x[r] -= f * x[c];
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = x[r];
    for (let k = r + 1; k < n; k++) s -= m[r * n + k] * x[k];
    x[r] = s / m[r * n + r];
  }
  return x;
}

function relativeError(x: ArrayLike<number>, ref: ArrayLike<number>): number {
  let d = 0;
  let r = 0;
  for (let i = 0; i < ref.length; i++) {
    d += (x[i] - ref[i]) ** 2;
    r += ref[i] ** 2;
  }
  return Math.sqrt(d / r);
}

function phiOf(apply: (v: Float64Array, out: Float64Array) => void, b: Float64Array, x: Float64Array): number {
  const ax = new Float64Array(x.length);
  apply(x, ax);
  let s = 0;
  for (let i = 0; i < x.length; i++) s += 0.5 * x[i] * ax[i] - b[i] * x[i];
  return s;
}

describe('conjugate gradient', () => {
  it('solves small SPD systems exactly within n iterations (cold, warm, preconditioned)', () => {
    const rng = new Rng(3);
    for (const n of [1, 4, 9]) {
      // shift 1 keeps the condition number moderate (~1e2), so n steps in float64 lose at most
      // a few digits to rounding: 1e-10 leaves ~4 digits of margin.
      const a = randomSpd(n, 1, rng);
      const b = Float64Array.from({ length: n }, () => rng.normal());
      const ref = solveDense(a, b, n);
      const cg = new ConjugateGradient(b);
      const x0 = Float64Array.from({ length: n }, () => rng.normal());
      const m = Float64Array.from({ length: n }, (_, i) => 1 / a[i * n + i]);
      for (const extra of [{}, { x0 }, { preconditioner: m }, { x0, preconditioner: m }]) {
        const res = cg.solve({ apply: denseApply(a, n), b, ...extra }, { maxIterations: n });
        expect(res.iterations).toBeLessThanOrEqual(n);
        const last = res.iterates[res.iterates.length - 1];
        expect(last.iteration).toBe(res.iterations);
        expect(relativeError(last.x, ref)).toBeLessThan(1e-10);
      }
    }
  });

  it('preconditioning cuts the iterations on an ill-conditioned, diagonally dominant system', () => {
    // Diagonal spread over 1..1e4 (condition ~1e4) plus a weak symmetric coupling: Jacobi's
    // M⁻¹ = 1/diag(A) leaves a condition number near 1, so CG needs far fewer iterations.
    const n = 200;
    const rng = new Rng(11);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) a[i * n + i] = 10 ** (4 * rng.uniform());
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const e = 0.002 * rng.normal() * Math.sqrt(a[i * n + i] * a[j * n + j]);
        a[i * n + j] = e;
        a[j * n + i] = e;
      }
    }
    const b = Float64Array.from({ length: n }, () => rng.normal());
    const ref = solveDense(a, b, n);
    const m = Float64Array.from({ length: n }, (_, i) => 1 / a[i * n + i]);
    const cg = new ConjugateGradient(b);
    const solve = (preconditioner: Float64Array | undefined, tolerance: number) =>
      cg.solve({ apply: denseApply(a, n), b, preconditioner }, { maxIterations: 1000, tolerance });
    // Two counts: where Martens' rule stops, and iterations until φ is within 1e-10·|φ*| of its
    // minimum φ* = −½bᵀx* (the rule switched off with ε = 0).
    let phiStar = 0;
    for (let i = 0; i < n; i++) phiStar -= 0.5 * b[i] * ref[i];
    const toConverge = (phi: readonly number[]) => phi.findIndex((f) => f - phiStar <= 1e-10 * Math.abs(phiStar));
    const plain = solve(undefined, MARTENS_EPSILON);
    const pre = solve(m, MARTENS_EPSILON);
    const plainFull = toConverge(solve(undefined, 0).phi);
    const preFull = toConverge(solve(m, 0).phi);
    // Measured: Martens' rule stops plain CG at 106, preconditioned at 11; to 1e-10 in φ: 354 vs 4.
    console.info(
      `CG iterations (Martens' rule / to 1e-10 in φ): plain ${plain.iterations} / ${plainFull}, ` +
        `preconditioned ${pre.iterations} / ${preFull}`,
    );
    expect(pre.stop).toBe('progress');
    expect(plain.stop).toBe('progress');
    expect(preFull).toBeGreaterThan(0);
    expect(plainFull === -1 || preFull < plainFull / 3).toBe(true);
    expect(pre.iterations).toBeLessThan(plain.iterations / 3);
    // The preconditioned system is nearly the identity: the rule stops at a solution accurate
    // far beyond its φ tolerance (5e-4 relative progress per k steps).
    expect(relativeError(pre.iterates[pre.iterates.length - 1].x, ref)).toBeLessThan(1e-6);
  });

  it('takes the preconditioner as a product: the diagonal as one matches the vector, A⁻¹ solves in one iteration', () => {
    const n = 40;
    const rng = new Rng(13);
    const a = randomSpd(n, 0.1, rng);
    const b = Float64Array.from({ length: n }, () => rng.normal());
    const ref = solveDense(a, b, n);
    const m = Float64Array.from({ length: n }, (_, i) => 1 / a[i * n + i]);
    const cg = new ConjugateGradient(b);
    const byVector = cg.solve({ apply: denseApply(a, n), b, preconditioner: m }, { maxIterations: 15, tolerance: 0 }).phi.slice();
    const byProduct = cg.solve({ apply: denseApply(a, n), b, preconditioner: (r, z) => { for (let i = 0; i < n; i++) z[i] = m[i] * r[i]; } }, { maxIterations: 15, tolerance: 0 });
    expect(byProduct.phi.length).toBe(byVector.length);
    // Only the order of the rᵀz sums differs (fused with the update vs a separate dot).
    byProduct.phi.forEach((f, i) => expect(Math.abs(f - byVector[i])).toBeLessThan(1e-12 * Math.abs(byVector[i]) + 1e-300));
    // M⁻¹ = A⁻¹: the first step is α = 1 along A⁻¹b, the solution.
    const exact = cg.solve({ apply: denseApply(a, n), b, preconditioner: (r, z) => z.set(solveDense(a, r as Float64Array, n)) }, { maxIterations: 1 });
    expect(exact.iterations).toBe(1);
    expect(relativeError(exact.iterates[0].x, ref)).toBeLessThan(1e-10);
  });

  it('keeps the iterates at ⌈5·1.3ʲ⌉ and the last, with φ matching ½xᵀAx − bᵀx', () => {
    const n = 120;
    const rng = new Rng(5);
    const diag = Float64Array.from({ length: n }, (_, i) => 1 + i * i); // condition 1.4e4: no early convergence
    const apply = (v: Float64Array, out: Float64Array) => {
      for (let i = 0; i < n; i++) out[i] = diag[i] * v[i];
    };
    const b = Float64Array.from({ length: n }, () => rng.normal());
    const cap = 60;
    // ε = 0 switches the progress rule off, so CG runs to the cap.
    const res = new ConjugateGradient(b).solve({ apply, b }, { maxIterations: cap, tolerance: 0 });
    expect(res.stop).toBe('max-iterations');
    expect(res.iterations).toBe(cap);
    const expected: number[] = [];
    for (let j = 0; Math.ceil(5 * 1.3 ** j) <= cap; j++) expected.push(Math.ceil(5 * 1.3 ** j));
    if (expected[expected.length - 1] !== cap) expected.push(cap);
    expect(expected.slice(0, 6)).toEqual([5, 7, 9, 11, 15, 19]);
    expect(res.iterates.map((it) => it.iteration)).toEqual(expected);
    expect(res.phi.length).toBe(cap + 1);
    for (const it of res.iterates) {
      // φ is tracked from the recursively updated residual; drift stays at rounding level (1e-12 relative).
      const direct = phiOf(apply, b, it.x as Float64Array);
      expect(Math.abs(it.phi - direct)).toBeLessThan(1e-12 * Math.abs(direct));
      expect(res.phi[it.iteration]).toBe(it.phi);
    }
    // φ decreases monotonically along CG iterates (each step minimises along a conjugate direction).
    for (let i = 1; i < res.phi.length; i++) expect(res.phi[i]).toBeLessThanOrEqual(res.phi[i - 1]);
  });

  it("Martens' relative-progress rule stops a large well-conditioned problem before the cap", () => {
    const n = 2000;
    const rng = new Rng(8);
    // Eigenvalues in [1, 2]: CG converges geometrically and φ flattens out within tens of steps.
    const diag = Float64Array.from({ length: n }, () => 1 + rng.uniform());
    const apply = (v: Float64Array, out: Float64Array) => {
      for (let i = 0; i < n; i++) out[i] = diag[i] * v[i];
    };
    const b = Float64Array.from({ length: n }, () => rng.normal());
    const cap = 500;
    const res = new ConjugateGradient(b).solve({ apply, b }, { maxIterations: cap });
    expect(res.stop).toBe('progress');
    expect(res.iterations).toBeLessThan(cap);
    // The rule holds at the stopping iteration and at no earlier one.
    const fires = (i: number) => {
      const k = Math.max(10, Math.ceil(0.1 * i));
      return i > k && res.phi[i] < 0 && (res.phi[i] - res.phi[i - k]) / res.phi[i] < k * MARTENS_EPSILON;
    };
    expect(fires(res.iterations)).toBe(true);
    for (let i = 1; i < res.iterations; i++) expect(fires(i)).toBe(false);
  });

  it('stops on a non-finite product and returns the last finite iterate', () => {
    const n = 30;
    const diag = Float64Array.from({ length: n }, (_, i) => 1 + i);
    const b = Float64Array.from({ length: n }, (_, i) => Math.sin(i + 1));
    let calls = 0;
    const apply = (v: Float64Array, out: Float64Array) => {
      for (let i = 0; i < n; i++) out[i] = diag[i] * v[i];
      if (++calls === 7) out[3] = NaN;
    };
    const res = new ConjugateGradient(b).solve({ apply, b }, { maxIterations: 50 });
    expect(res.stop).toBe('non-finite');
    expect(res.iterations).toBe(6);
    const last = res.iterates[res.iterates.length - 1];
    expect(last.iteration).toBe(6);
    expect(last.x.every(Number.isFinite)).toBe(true);
  });

  it('drops a warm start whose product is not finite and starts from zero', () => {
    const b = Float64Array.from([1, 2, 3]);
    let calls = 0;
    const apply = (v: Float64Array, out: Float64Array) => {
      for (let i = 0; i < 3; i++) out[i] = 2 * v[i];
      if (calls++ === 0) out[0] = Infinity;
    };
    const res = new ConjugateGradient(b).solve({ apply, b, x0: Float64Array.from([5, 5, 5]) }, { maxIterations: 3 });
    expect(Math.abs(res.phi[0])).toBe(0); // φ(0) = 0: the warm start was dropped
    expect(Array.from(res.iterates[res.iterates.length - 1].x)).toEqual([0.5, 1, 1.5]);
  });

  it('names the mismatch when a vector has the wrong length', () => {
    const cg = new ConjugateGradient(new Float64Array(4));
    expect(() => cg.solve({ apply: () => {}, b: new Float64Array(3) }, { maxIterations: 1 })).toThrow(/b has length 3.*4/);
  });
});
