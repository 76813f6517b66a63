import { describe, expect, it } from 'vitest';
import { learningRate, validateSchedule, type Schedule } from '../../src/optim/schedules.js';
import { Sgd, type SgdOptions } from '../../src/optim/sgd.js';
import { blobs, DiagonalQuadratic, NO_BATCH, SoftmaxRegression } from './models.js';

/** An ill-conditioned quadratic (curvatures 0.01..1) started away from its minimum θ* = 0. */
function illConditioned(): DiagonalQuadratic {
  const n = 10;
  const model = new DiagonalQuadratic(
    Float64Array.from({ length: n }, (_, i) => 0.01 * 100 ** (i / (n - 1))),
    new Float64Array(n),
  );
  model.params.fill(1);
  return model;
}

function lossAfter(options: SgdOptions, steps: number): number {
  const model = illConditioned();
  const sgd = new Sgd(options);
  for (let s = 0; s < steps; s++) sgd.step(model, NO_BATCH);
  return model.loss();
}

describe('SGD', () => {
  it('momentum and Nesterov reduce an ill-conditioned quadratic faster than plain SGD at the same lr', () => {
    const lr = 1; // stable for plain SGD: lr·a_max = 1 < 2
    const plain = lossAfter({ lr }, 100);
    const classic = lossAfter({ lr, momentum: 'classic', mu: 0.9 }, 100);
    const nesterov = lossAfter({ lr, momentum: 'nesterov', mu: 0.9 }, 100);
    // Plain SGD shrinks the slowest mode by (1 − 0.01)^100 ≈ 0.37 only; momentum's rate on it is
    // ~√μ per step. Factors of 10 leave wide margins for the exact numbers.
    expect(plain).toBeGreaterThan(0);
    expect(classic).toBeLessThan(plain / 10);
    expect(nesterov).toBeLessThan(plain / 10);
  });

  it('plain SGD takes θ ← θ − η g exactly', () => {
    const model = illConditioned();
    const sgd = new Sgd({ lr: 0.5 });
    const r = sgd.step(model, NO_BATCH);
    expect(r.lr).toBe(0.5);
    expect(r.accepted).toBe(true);
    for (let j = 0; j < model.paramCount; j++) expect(model.params[j]).toBe(1 - 0.5 * model.a[j]);
  });

  it('Nesterov is classic momentum with the gradient taken at the look-ahead point', () => {
    // For the scalar f = ½aθ², Nesterov's look-ahead form: v ← μv − ηaθ, θ ← θ + μv − ηaθ.
    const a = 0.3;
    const model = new DiagonalQuadratic(Float64Array.of(a), Float64Array.of(0));
    model.params[0] = 2;
    const sgd = new Sgd({ lr: 0.1, momentum: 'nesterov', mu: 0.8 });
    let theta = 2;
    let v = 0;
    for (let s = 0; s < 5; s++) {
      sgd.step(model, NO_BATCH);
      const g = a * theta;
      v = 0.8 * v - 0.1 * g;
      theta = theta + 0.8 * v - 0.1 * g;
      expect(model.params[0]).toBeCloseTo(theta, 14);
    }
  });

  it('decoupled weight decay shrinks weights with zero gradient by (1 − η·wd) per step, momentum or not', () => {
    for (const momentum of ['none', 'classic', 'nesterov'] as const) {
      const model = new DiagonalQuadratic(new Float64Array(3), new Float64Array(3)); // g ≡ 0
      model.params.set([1, -2, 4]);
      const sgd = new Sgd({ lr: 0.1, momentum, weightDecay: 0.5 });
      for (let s = 0; s < 7; s++) sgd.step(model, NO_BATCH);
      // 1e-15 relative: seven roundings of one multiplication each.
      const factor = (1 - 0.1 * 0.5) ** 7;
      [1, -2, 4].forEach((w, j) => expect(model.params[j]).toBeCloseTo(w * factor, 14));
    }
  });

  it("L2 weight decay adds wd·θ to the gradient, so momentum carries it (θ shrinks faster)", () => {
    const model = new DiagonalQuadratic(new Float64Array(1), new Float64Array(1));
    model.params[0] = 1;
    const sgd = new Sgd({ lr: 0.1, momentum: 'classic', mu: 0.9, weightDecay: 0.5, weightDecayKind: 'l2' });
    let theta = 1;
    let v = 0;
    for (let s = 0; s < 7; s++) {
      sgd.step(model, NO_BATCH);
      v = 0.9 * v - 0.1 * 0.5 * theta;
      theta += v;
      expect(model.params[0]).toBeCloseTo(theta, 14);
    }
    expect(model.params[0]).toBeLessThan((1 - 0.1 * 0.5) ** 7);
  });

  it('skips a step whose gradient is not finite', () => {
    const model = new DiagonalQuadratic(Float64Array.of(1), Float64Array.of(NaN));
    model.params[0] = 3;
    const r = new Sgd({ lr: 0.1, momentum: 'classic' }).step(model, NO_BATCH);
    expect(r.accepted).toBe(false);
    expect(model.params[0]).toBe(3);
  });

  it('state() / loadState() through JSON continues bit-identically (momentum, schedule, counter)', () => {
    const data = blobs(60, 4, 3, 9);
    const options: SgdOptions = {
      lr: { kind: 'cosine', lr: 0.5, totalSteps: 12, minLr: 0.01 },
      momentum: 'nesterov',
      weightDecay: 1e-3,
    };
    const a = new SoftmaxRegression(4, 3);
    a.params.fill(0.1);
    const sgdA = new Sgd(options);
    for (let s = 0; s < 5; s++) sgdA.step(a, data);
    const saved = JSON.parse(JSON.stringify(sgdA.state()));
    const b = new SoftmaxRegression(4, 3);
    b.params.set(a.params);
    const sgdB = new Sgd(options);
    sgdB.loadState(saved);
    for (let s = 0; s < 5; s++) {
      const ra = sgdA.step(a, data);
      const rb = sgdB.step(b, data);
      expect(rb).toEqual(ra);
    }
    expect(Array.from(b.params)).toEqual(Array.from(a.params));
    expect(sgdB.state()).toEqual(sgdA.state());
  });

  it('refuses a velocity when momentum is off', () => {
    expect(() => new Sgd().loadState({ optimizer: 'sgd', steps: 0, velocity: [0] })).toThrow(/velocity is present/);
  });

  it.each([-1, 2.5])('refuses a step counter of %s (the schedule indexes by it)', (steps) => {
    expect(() => new Sgd().loadState({ optimizer: 'sgd', steps, velocity: null })).toThrow(`sgd.loadState: 'steps' must be a whole number ≥ 0, got ${steps}`);
  });
});

describe('learning-rate schedules', () => {
  it.each<[Schedule, [number, number][]]>([
    [{ kind: 'constant', lr: 0.3 }, [[0, 0.3], [1, 0.3], [1000, 0.3]]],
    [{ kind: 'step', lr: 1, every: 10, gamma: 0.5 }, [[0, 1], [9, 1], [10, 0.5], [25, 0.25], [30, 0.125]]],
    [{ kind: 'cosine', lr: 1, totalSteps: 100, minLr: 0.1 }, [[0, 1], [50, 0.55], [100, 0.1], [150, 0.1]]],
    [{ kind: 'cosine', lr: 2, totalSteps: 4 }, [[0, 2], [1, 1 + Math.SQRT1_2], [2, 1], [3, 1 - Math.SQRT1_2], [4, 0]]],
  ])('%j', (schedule, points) => {
    validateSchedule(schedule);
    // 1e-15: a cosine and a few multiplications of O(1) numbers.
    for (const [t, lr] of points) expect(learningRate(schedule, t)).toBeCloseTo(lr, 15);
  });

  it('the optimizer uses η at the step count', () => {
    const model = new DiagonalQuadratic(Float64Array.of(0), Float64Array.of(1)); // g = aθ − c ≡ −1
    const sgd = new Sgd({ lr: { kind: 'step', lr: 1, every: 2, gamma: 0.1 } });
    const lrs = Array.from({ length: 5 }, () => sgd.step(model, NO_BATCH).lr);
    expect(lrs.map((x) => +x.toPrecision(12))).toEqual([1, 1, 0.1, 0.1, 0.01]);
    expect(model.params[0]).toBeCloseTo(2.21, 14);
  });

  it('rejects a malformed schedule, showing it', () => {
    expect(() => validateSchedule({ kind: 'step', lr: 1, every: 0, gamma: 0.5 })).toThrow(/"every":0.*positive integer/);
    expect(() => new Sgd({ lr: -1 })).toThrow(/lr must be/);
  });
});
