import { describe, expect, it } from 'vitest';
import type { FloatArray } from '../../src/nd/dtype.js';
import type { Model } from '../../src/nd/model.js';
import { HessianFree, LAMBDA_MAX, LAMBDA_MIN, type HfReport } from '../../src/optim/hf.js';
import { blobs, DiagonalQuadratic, NO_BATCH, nanBeyond, SoftmaxRegression, withCurvature } from './models.js';

function quadratic(n: number): DiagonalQuadratic {
  // Curvatures 1..100 and a non-zero minimiser θ* = c / a.
  const a = Float64Array.from({ length: n }, (_, i) => 1 + (99 * i) / (n - 1));
  const c = Float64Array.from({ length: n }, (_, i) => Math.cos(i));
  return new DiagonalQuadratic(a, c);
}

function finite(v: ArrayLike<number>): boolean {
  return Array.prototype.every.call(v, Number.isFinite) as boolean;
}

describe('Hessian-free', () => {
  it('minimises a convex quadratic to its known optimum, and lowers λ while ρ ≈ 1', () => {
    const model = quadratic(20);
    let fStar = 0;
    for (let j = 0; j < 20; j++) fStar -= (0.5 * model.c[j] ** 2) / model.a[j];
    const hf = new HessianFree({ lambda: 1 });
    const reports: HfReport[] = [];
    for (let s = 0; s < 8; s++) reports.push(hf.step(model, NO_BATCH));
    // Exact curvature: the damped step underestimates nothing, so ρ is in (3/4, 1] every step
    // and λ drops by 2/3 each time.
    for (const [s, r] of reports.entries()) {
      expect(r.accepted).toBe(true);
      // ρ = 1 up to rounding: f(θ+d) − f(θ) loses the digits of f that it cancels, so the
      // bound is ~100 ulps of |f| relative to |Δf| (Δf falls to 3e-11 by the last step).
      const cancel = (1e-14 * Math.abs(r.loss)) / Math.abs(r.lossAfter - r.loss);
      expect(Math.abs(r.rho - 1)).toBeLessThanOrEqual(cancel);
      expect(r.lambda).toBeCloseTo((2 / 3) ** (s + 1), 12);
    }
    // Optimum to 1e-8 relative: λ has fallen to 0.04, and each step removes most of the gap.
    expect(model.loss() - fStar).toBeLessThan(1e-8 * Math.abs(fStar));
  });

  it('decreases the loss of softmax regression with a curvature mini-batch', () => {
    const data = blobs(240, 6, 4, 2);
    const model = new SoftmaxRegression(6, 4);
    const hf = new HessianFree({ curvatureBatch: 60 });
    const first = model.loss(data);
    const losses: number[] = [];
    for (let s = 0; s < 10; s++) {
      const r = hf.step(model, data);
      expect(r.loss).toBeCloseTo(s === 0 ? first : losses[s - 1], 12);
      losses.push(r.lossAfter);
      expect(r.lossAfter).toBeLessThanOrEqual(r.loss);
      expect(r.cgIterations).toBeGreaterThan(0);
    }
    // ln 4 = 1.386 at θ = 0; the blobs are well separated, so 10 HF steps get far below it.
    expect(first).toBeCloseTo(Math.log(4), 12);
    expect(losses[9]).toBeLessThan(0.3 * first);
    expect(model.loss(data)).toBe(losses[9]);
  });

  it('raises λ after a step the curvature badly underestimates (ρ < 1/4)', () => {
    const inner = quadratic(10);
    // G reported 100× too small: the CG step is ~100× too long and the true loss rises.
    const model = withCurvature(inner, (_call, v, out, exact) => {
      exact(v, out);
      for (let j = 0; j < out.length; j++) out[j] *= 0.01;
    });
    const hf = new HessianFree({ lambda: 1e-3 });
    const r = hf.step(model, NO_BATCH);
    expect(r.rho).toBeLessThan(0.25);
    expect(r.lambda).toBeCloseTo(1.5e-3, 15);
    // The line search still finds a descent step along d; the loss never goes up.
    expect(r.lossAfter).toBeLessThanOrEqual(r.loss);
    const r2 = hf.step(model, NO_BATCH);
    expect(r2.lambda).toBeGreaterThan(r.lambda);
  });

  it.each([
    ['NaN on one product', (call: number, out: FloatArray) => call === 3 && out.fill(NaN)],
    ['NaN on the first product: CG cannot start', (call: number, out: FloatArray) => call === 0 && out.fill(NaN)],
    ['huge values on one product', (call: number, out: FloatArray) => call === 2 && out.fill(1e300)],
    ['Inf on the warm-start product', (call: number, out: FloatArray) => call === 12 && out.fill(Infinity)],
  ])('a bad curvature batch (%s) leaves finite parameters and training goes on', (_name, spoil) => {
    const data = blobs(120, 5, 3, 7);
    const inner = new SoftmaxRegression(5, 3);
    const model = withCurvature(inner, (call, v, out, exact) => {
      exact(v, out);
      spoil(call, out);
    });
    const hf = new HessianFree({ maxCgIterations: 10 });
    const first = inner.loss(data);
    for (let s = 0; s < 6; s++) {
      const r = hf.step(model, data);
      expect(finite(inner.params)).toBe(true);
      expect(Number.isFinite(r.lossAfter)).toBe(true);
      expect(Number.isFinite(r.lambda)).toBe(true);
    }
    expect(inner.loss(data)).toBeLessThan(0.5 * first);
  });

  it('rejects a step whose loss is NaN: parameters restored bit for bit, λ raised, warm start reset', () => {
    const inner = quadratic(6);
    const model: Model = nanBeyond(inner, 0.01); // any real step leaves the domain
    const hf = new HessianFree({ lambda: 1e-2 });
    inner.params.fill(0.001);
    const before = inner.params.slice();
    const r = hf.step(model, NO_BATCH);
    expect(r.accepted).toBe(false);
    expect(r.stepSize).toBe(0);
    expect(r.lambda).toBeCloseTo(1.5e-2, 15);
    expect(Array.from(inner.params)).toEqual(Array.from(before));
    expect(hf.state().warmStart).toBeNull();
  });

  it('weight cost adds ½κ‖θ‖² to the loss and moves the optimum to c/(a + κ)', () => {
    const model = quadratic(8);
    const kappa = 0.5;
    const hf = new HessianFree({ weightCost: kappa });
    let last: HfReport | undefined;
    for (let s = 0; s < 12; s++) last = hf.step(model, NO_BATCH);
    // Stationary point of ½Σaθ² − cθ + ½κθ²; 1e-6 absolute is far above CG's truncation here.
    for (let j = 0; j < 8; j++) expect(model.params[j]).toBeCloseTo(model.c[j] / (model.a[j] + kappa), 6);
    const theta = model.params;
    let penalty = 0;
    for (let j = 0; j < 8; j++) penalty += 0.5 * kappa * theta[j] ** 2;
    expect(last!.lossAfter).toBeCloseTo(model.loss() + penalty, 12);
  });

  it('state() / loadState() through JSON continues bit-identically', () => {
    const data = blobs(90, 4, 3, 5);
    const run = (model: SoftmaxRegression, hf: HessianFree, steps: number) => {
      for (let s = 0; s < steps; s++) hf.step(model, data);
    };
    const a = new SoftmaxRegression(4, 3);
    const hfA = new HessianFree({ curvatureBatch: 30 });
    run(a, hfA, 3);
    const saved = JSON.parse(JSON.stringify(hfA.state()));
    const paramsSaved = Array.from(a.params);
    expect(saved.warmStart).toHaveLength(a.paramCount);
    run(a, hfA, 3);

    const b = new SoftmaxRegression(4, 3);
    b.params.set(paramsSaved);
    const hfB = new HessianFree({ curvatureBatch: 30 });
    hfB.loadState(saved);
    run(b, hfB, 3);
    expect(Array.from(b.params)).toEqual(Array.from(a.params));
    expect(hfB.state()).toEqual(hfA.state());
  });

  it('refuses a state of another optimizer or another size, naming the problem', () => {
    const hf = new HessianFree();
    expect(() => hf.loadState({ optimizer: 'sgd', steps: 1 })).toThrow(/optimizer 'hf'.*"sgd"/);
    expect(() => hf.loadState({ optimizer: 'hf', lambda: 2, steps: -3, warmStart: null })).toThrow("hf.loadState: 'steps' must be a whole number ≥ 0, got -3");
    hf.loadState({ optimizer: 'hf', lambda: 2, steps: 1, warmStart: [1, 2] });
    expect(() => hf.step(quadratic(5), NO_BATCH)).toThrow(/length 2.*5 parameters/);
  });

  it('refuses an initial damping outside its bounds, naming them (Number.MAX_VALUE used to overflow to Infinity)', () => {
    for (const lambda of [Number.MAX_VALUE, Infinity, 0, 1e-300, NaN]) {
      expect(() => new HessianFree({ lambda })).toThrow(/lambda \(the initial damping\) must be in \[1e-10, 10000000000\]/);
    }
    expect(() => new HessianFree().loadState({ optimizer: 'hf', lambda: 1e300, steps: 1, warmStart: null })).toThrow(/lambda 1e\+300 is outside/);
  });

  it('λ stays at its upper bound while steps keep failing, and comes back down from it', () => {
    const inner = quadratic(6);
    // Every step fails (any move leaves the domain): λ·3/2 each time, but never past LAMBDA_MAX.
    const hf = new HessianFree({ lambda: LAMBDA_MAX / 1.2 });
    inner.params.fill(0.001);
    const failing = nanBeyond(inner, 1e-30);
    for (let s = 0; s < 4; s++) expect(hf.step(failing, NO_BATCH).lambda).toBe(LAMBDA_MAX);
    // On the plain quadratic the damped steps are exact (ρ ≈ 1): λ falls by 2/3 a step from the
    // bound, and the loss falls with it.
    const before = inner.loss();
    let r: HfReport | undefined;
    for (let s = 0; s < 40; s++) {
      r = hf.step(inner, NO_BATCH);
      expect(r.accepted).toBe(true);
    }
    // 40 roundings of λ·2/3: the ratio is 1 to ~1e-14.
    expect(r!.lambda / (LAMBDA_MAX * (2 / 3) ** 40)).toBeCloseTo(1, 12);
    expect(inner.loss()).toBeLessThan(before);
  });

  it('λ never falls below its lower bound', () => {
    const hf = new HessianFree({ lambda: LAMBDA_MIN * 1.2 });
    const model = quadratic(5);
    // The first step is exact (ρ ≈ 1), so λ·2/3 would fall below the bound.
    expect(hf.step(model, NO_BATCH).lambda).toBe(LAMBDA_MIN);
    for (let s = 0; s < 4; s++) expect(hf.step(model, NO_BATCH).lambda).toBeGreaterThanOrEqual(LAMBDA_MIN);
  });
});
