/**
 * Against PyTorch: a committed fixture (fixtures/torch_hessian.py, torch 1.13, float64) holds a
 * small 2-D CNN's weights and data and, from the Hessian it assembled by double backpropagation,
 * the top eigenvalues and the trace. ndcnn rebuilds the same net from the same numbers.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CurvatureOperator, hutchinsonTrace, topEigenpairs } from '../../src/analysis/index.js';
import { conv, dense, flatten, maxPool } from '../../src/layers/index.js';
import { Network } from '../../src/network/index.js';
import { cpuBackend } from '../../src/nd/backends/cpu/index.js';
import { assemble } from './dense.js';

const fx = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'torch-hessian.json'), 'utf8')) as {
  inShape: number[]; n: number; x: number[]; y: number[]; params: number[]; loss: number; top: number[]; trace: number;
};

describe('the Hessian of a small CNN, against PyTorch double backpropagation', () => {
  const net = new Network(cpuBackend('float64'), fx.inShape, [
    conv({ channels: 2, kernel: 3, activation: 'tanh' }),
    maxPool({ window: 2 }),
    flatten(),
    dense({ units: 3 }),
  ], { loss: 'softmax-cross-entropy' });
  net.setParams(fx.params);
  const data = { x: Float64Array.from(fx.x), y: Int32Array.from(fx.y), n: fx.n };
  const op = new CurvatureOperator(net, data);

  it('same network: the loss agrees to float64 rounding', () => {
    expect(Math.abs(net.loss(data) - fx.loss)).toBeLessThan(1e-12);
  });

  it('Lanczos top-3 eigenvalues match to 1e-8, and the exact trace to 1e-10', () => {
    // Both sides are exact to rounding (float64, ~1e-15); 1e-8 is the bar for Lanczos.
    const r = topEigenpairs(op, { k: 3, tol: 1e-10 });
    r.values.forEach((v, i) => expect(Math.abs(v - fx.top[i])).toBeLessThan(1e-8));
    const a = assemble(op);
    expect(Math.abs(a.reduce((s, row, i) => s + row[i], 0) - fx.trace)).toBeLessThan(1e-10);
  });

  it('Hutchinson agrees with PyTorch\'s trace within 3 standard errors', () => {
    const t = hutchinsonTrace(op, { maxProbes: 400, seed: 3 });
    expect(Math.abs(t.trace - fx.trace)).toBeLessThan(3 * t.stdError);
  });
});
