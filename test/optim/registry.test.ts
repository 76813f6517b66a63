import { describe, expect, it } from 'vitest';
import { createOptimizer, isOptimizerName, optimizers } from '../../src/optim/index.js';
import { blobs, SoftmaxRegression } from './models.js';

describe('optimizer registry', () => {
  it.each(Object.keys(optimizers))('%s: created by name, steps a model through the shared interface', (name) => {
    if (!isOptimizerName(name)) throw new Error(name);
    const opt = createOptimizer(name);
    expect(opt.name).toBe(name);
    const data = blobs(60, 3, 2, 1);
    const model = new SoftmaxRegression(3, 2);
    const before = model.loss(data);
    for (let s = 0; s < 3; s++) {
      const r = opt.step(model, data);
      expect(Number.isFinite(r.loss)).toBe(true);
      expect(r.accepted).toBe(true);
    }
    expect(model.loss(data)).toBeLessThan(before);
    // The state survives JSON and loads into a fresh optimizer of the same name.
    const fresh = createOptimizer(name);
    fresh.loadState(JSON.parse(JSON.stringify(opt.state())));
    expect(fresh.state()).toEqual(opt.state());
  });

  it('names the known optimizers for an unknown name', () => {
    expect(isOptimizerName('lbfgs')).toBe(false);
    expect(() => createOptimizer('lbfgs' as 'sgd')).toThrow(/unknown optimizer 'lbfgs' \(known: sgd, hf, adam, adamw, kfac\)/);
  });
});
