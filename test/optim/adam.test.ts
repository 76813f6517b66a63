/**
 * Adam and AdamW against torch.optim in float64 (fixtures/torch-adam.py, output committed beside
 * it): 12 steps on a tiny network, with L2 and decoupled weight decay, gradient clipping and the
 * warm-up + cosine schedule. Then exact resumption, the textbook properties (bias correction,
 * decoupling), the schedule, clipping and bad options.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dense } from '../../src/layers/index.js';
import { Network } from '../../src/network/index.js';
import { cpuBackend } from '../../src/nd/backends/cpu/index.js';
import { Adam, AdamW, clipGradNorm, createOptimizer, learningRate, Sgd, type AdamOptions, type Schedule } from '../../src/optim/index.js';
import { relError } from '../helpers.js';
import { DiagonalQuadratic, NO_BATCH } from './models.js';

interface Case {
  name: string;
  optimizer: 'adam' | 'adamw';
  options: AdamOptions;
  losses: number[];
  params: number[][];
}
const fixture = JSON.parse(readFileSync(new URL('./fixtures/torch-adam.json', import.meta.url), 'utf8')) as {
  init: number[];
  x: number[];
  y: number[];
  cases: Case[];
};
const batch = { x: Float64Array.from(fixture.x), y: Int32Array.from(fixture.y), n: 8 };

function tinyNet(): Network {
  const net = new Network(cpuBackend('float64'), [4], [dense({ units: 5, activation: 'tanh' }), dense({ units: 3 })]);
  net.setParams(fixture.init);
  return net;
}

describe('Adam and AdamW against torch.optim (float64)', () => {
  // Same float64 formulas in the same order, gradients equal to ~1e-16: after 12 steps the
  // trajectories agree to ~1e-15 relative (measured ≤ 5e-16); 1e-12 catches any wrong term
  // (a missing bias correction or a decay through the moments shows at 1e-3 or more).
  it.each(fixture.cases)('$name: 12 steps', (c) => {
    const net = tinyNet();
    const opt = createOptimizer(c.optimizer, c.options);
    c.params.forEach((expected, t) => {
      const r = opt.step(net, batch);
      expect(Math.abs(r.loss - c.losses[t]) / c.losses[t]).toBeLessThan(1e-12);
      expect(relError(net.params, expected)).toBeLessThan(1e-12);
    });
  });
});

describe('exact resumption', () => {
  it.each(['adam', 'adamw'] as const)('%s: state() through JSON into a fresh optimizer continues bit-identically', (name) => {
    const options: AdamOptions = { lr: { kind: 'warmup-cosine', lr: 0.05, warmupSteps: 3, totalSteps: 20 }, weightDecay: 0.1, clipNorm: 0.5 };
    const [a, b] = [tinyNet(), tinyNet()];
    const straight = createOptimizer(name, options);
    for (let t = 0; t < 10; t++) straight.step(a, batch);

    const first = createOptimizer(name, options);
    for (let t = 0; t < 4; t++) first.step(b, batch);
    const saved = JSON.parse(JSON.stringify(first.state()));
    const params = Array.from(b.params);
    // A fresh network and optimizer, as a resumed run builds them: the moments wait for the first step.
    const c = tinyNet();
    c.setParams(params);
    const resumed = createOptimizer(name, options);
    resumed.loadState(saved);
    expect(resumed.state()).toEqual(saved);
    for (let t = 4; t < 10; t++) resumed.step(c, batch);
    expect(Array.from(c.params)).toEqual(Array.from(a.params));
    expect(resumed.state()).toEqual(straight.state());
  });

  it('rejects another optimizer\'s state, a bad step count and mismatched moments, naming the field', () => {
    const adam = new Adam();
    expect(() => adam.loadState(new AdamW().state())).toThrow(/adam\.loadState: expected a state with optimizer 'adam', got "adamw"/);
    expect(() => adam.loadState({ optimizer: 'adam', steps: 1.5, m: null, v: null })).toThrow(/'steps' must be a whole number/);
    expect(() => adam.loadState({ optimizer: 'adam', steps: 2, m: [1, 2], v: [1] })).toThrow(/'m' and 'v' must both be present with equal lengths/);
    const net = tinyNet();
    adam.loadState({ optimizer: 'adam', steps: 2, m: [1, 2], v: [1, 2] });
    expect(() => adam.step(net, batch)).toThrow(/adam: saved 'm' has length 2, the model has 43 parameters/);
  });

  it('rejects a negative second moment, and moments a float32 model cannot hold', () => {
    const zeros = new Array<number>(43).fill(0);
    const v = [...zeros];
    v[7] = -1e-8;
    expect(() => new Adam().loadState({ optimizer: 'adam', steps: 2, m: zeros, v })).toThrow("adam.loadState: 'v' holds -1e-8 at element 7; a second moment is never negative");
    const net32 = new Network(cpuBackend('float32'), [4], [dense({ units: 5, activation: 'tanh' }), dense({ units: 3 })]);
    const m = [...zeros];
    m[3] = 1e39; // finite in float64 (and JSON), Infinity in float32
    const adam = new Adam();
    adam.loadState({ optimizer: 'adam', steps: 2, m, v: zeros });
    expect(() => adam.step(net32, batch)).toThrow("adam: saved 'm' holds 1e+39 at element 3, which overflows float32");
    expect(net32.params.every(Number.isFinite)).toBe(true);
  });
});

describe('the update rule', () => {
  it('the first step moves every coordinate by lr·sign(g): bias correction undoes the zero start', () => {
    const model = new DiagonalQuadratic(Float64Array.of(1, 4, 0.01), Float64Array.of(0, 0, 0));
    model.params.set([1, -2, 3]);
    new Adam({ lr: 0.1 }).step(model, NO_BATCH);
    // m̂ = g, v̂ = g², so Δθ = −lr·g/(|g| + ε): lr up to ε/|g| ≤ 1e-6 relative.
    [0.9, -1.9, 2.9].forEach((v, i) => expect(model.params[i]).toBeCloseTo(v, 6));
  });

  it('AdamW decays a weight with zero gradient by exactly (1 − η·wd) per step; Adam\'s L2 decay passes through the moments instead', () => {
    // f = ½θ₀² − 0·θ₁ with θ₁'s gradient 0 (a = 0): only the decay moves θ₁.
    const mk = () => {
      const m = new DiagonalQuadratic(Float64Array.of(1, 0), Float64Array.of(0, 0));
      m.params.set([1, 2]);
      return m;
    };
    const [w, l2] = [mk(), mk()];
    const adamw = new AdamW({ lr: 0.1, weightDecay: 0.5 });
    const adam = new Adam({ lr: 0.1, weightDecay: 0.5 });
    let expected = 2;
    for (let t = 0; t < 3; t++) {
      adamw.step(w, NO_BATCH);
      adam.step(l2, NO_BATCH);
      expected *= 1 - 0.1 * 0.5;
    }
    expect(w.params[1]).toBe(expected);
    // Through Adam's normalisation the L2 gradient wd·θ moves θ₁ by ~lr per step whatever wd·θ
    // is (m̂/√v̂ ≈ 1 for a slowly changing gradient), not by the factor (1 − η·wd).
    expect(Math.abs(l2.params[1] - (2 - 3 * 0.1))).toBeLessThan(1e-3);
    expect(Math.abs(l2.params[1] - expected)).toBeGreaterThan(1e-2);
  });

  it('skips a non-finite gradient without touching θ or the moments', () => {
    const model = new DiagonalQuadratic(Float64Array.of(1), Float64Array.of(NaN));
    model.params[0] = 1;
    const adam = new Adam();
    expect(adam.step(model, NO_BATCH).accepted).toBe(false);
    expect(model.params[0]).toBe(1);
    expect(adam.state()).toMatchObject({ steps: 0 });
  });

  it.each([
    [{ betas: [1, 0.999] }, /betas\[0\] must be in \[0, 1\)/],
    [{ eps: 0 }, /eps must be > 0/],
    [{ weightDecay: -1 }, /weightDecay must be ≥ 0/],
    [{ clipNorm: 0 }, /clipNorm must be a finite number > 0/],
    [{ lr: -1 }, /lr must be a finite number ≥ 0/],
    [{ beta1: 0.9 }, /Adam: unknown option 'beta1' \(known: lr, betas, eps, weightDecay, clipNorm\)/],
  ] as [AdamOptions, RegExp][])('rejects %j', (o, re) => {
    expect(() => new Adam(o)).toThrow(re);
  });
});

describe('warm-up then cosine schedule', () => {
  const s: Schedule = { kind: 'warmup-cosine', lr: 1, warmupSteps: 4, totalSteps: 12, minLr: 0.1 };
  it('rises linearly to lr over the warm-up, then follows the cosine to minLr and stays there', () => {
    expect([0, 1, 2, 3].map((t) => learningRate(s, t))).toEqual([0.25, 0.5, 0.75, 1]);
    expect(learningRate(s, 4)).toBe(1);
    expect(learningRate(s, 8)).toBeCloseTo(0.1 + 0.45 * (1 + Math.cos(Math.PI / 2)), 15);
    expect(learningRate(s, 12)).toBeCloseTo(0.1, 15);
    expect(learningRate(s, 50)).toBeCloseTo(0.1, 15);
  });
  it('rejects a warm-up as long as the run', () => {
    expect(() => new Sgd({ lr: { ...s, warmupSteps: 12 } })).toThrow(/warmupSteps must be an integer in \[0, totalSteps\)/);
  });
});

describe('gradient-norm clipping', () => {
  it('scales to norm c·‖g‖/(‖g‖ + 1e-6) above c, leaves g alone below, returns the norm before', () => {
    const g = Float64Array.of(3, 4);
    expect(clipGradNorm(g, 1)).toBe(5);
    expect(Math.hypot(g[0], g[1])).toBeCloseTo(5 / (5 + 1e-6), 15);
    const h = Float64Array.of(0.3, 0.4);
    clipGradNorm(h, 1);
    expect(Array.from(h)).toEqual([0.3, 0.4]);
  });
  it('SGD clips before its update and reports the norm', () => {
    const model = new DiagonalQuadratic(Float64Array.of(1, 1), Float64Array.of(0, 0));
    model.params.set([3, 4]);
    const r = new Sgd({ lr: 1, clipNorm: 1 }).step(model, NO_BATCH);
    expect(r.gradNorm).toBe(5);
    // θ − lr·g·(1/(5 + 1e-6)): from norm 5 to ≈ 4.
    expect(Math.hypot(model.params[0], model.params[1])).toBeCloseTo(4, 5);
  });
});
