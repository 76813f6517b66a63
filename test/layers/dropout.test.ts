/**
 * Dropout and the network's modes: y = m ⊙ x with m ∈ {0, 1/(1−p)} in training, the identity in
 * evaluation; the masks a pure function of (seed, step, sample), held for one step so gradient,
 * Hv and Gv are of one function (checked by finite differences in float64, bound 1e-6 as in
 * helpers.ts), and restored exactly from the network's state.
 */
import { describe, expect, it } from 'vitest';
import { batchNorm, conv, dense, Dropout, dropout, flatten, type LayerSpec } from '../../src/layers/index.js';
import { Network } from '../../src/network/index.js';
import { cpuBackend } from '../../src/nd/backends/cpu/index.js';
import { sliceBatch } from '../../src/nd/model.js';
import { Rng } from '../../src/nd/rng.js';
import { numericGradient, numericHv, randn, randomBatch, relError } from '../helpers.js';

const B = cpuBackend('float64');
const FD = 1e-6;

const SPECS: Record<number, LayerSpec[]> = {
  1: [conv({ channels: 3, kernel: 3, activation: 'tanh' }), dropout(0.5), flatten(), dense({ units: 3 })],
  2: [conv({ channels: 2, kernel: 2, activation: 'sigmoid' }), dropout(0.3), flatten(), dense({ units: 5, activation: 'tanh' }), dropout(0.5), dense({ units: 3 })],
  3: [conv({ channels: 2, kernel: 2, activation: 'tanh' }), dropout(0.25), flatten(), dense({ units: 3 })],
};
const IN: Record<number, number[]> = { 1: [1, 9], 2: [1, 5, 6], 3: [1, 4, 3, 4] };

function setup(rank: number, specs = SPECS[rank]) {
  const net = new Network(B, IN[rank], specs, { seed: 5 });
  const rng = new Rng(rank);
  return { net, rng, batch: randomBatch(rng, IN[rank], 6, 3) };
}

describe('dropout', () => {
  it('training: y = m ⊙ x with m ∈ {0, 1/(1 − p)}, about a fraction p dropped; evaluation: identity', () => {
    const net = new Network(B, [2000], [dropout(0.3), dense({ units: 1 })], { loss: 'mse' });
    const plain = new Network(B, [2000], [dense({ units: 1 })], { loss: 'mse' });
    plain.setParams(net.params);
    const x = randn(new Rng(3), 2 * 2000).map((v) => v + 3);
    const batch = { x, y: new Float64Array(2), n: 2 };
    expect(Array.from(net.predict(x, 2))).toEqual(Array.from(plain.predict(x, 2)));
    // Read the mask of sample 0 through one-hot weights: output = Σ_j w_j m_j x_j with w = e_j / x_j.
    const w = net.params.subarray(0, 2000);
    let dropped = 0;
    for (let j = 0; j < 2000; j += 1) {
      w.fill(0);
      w[j] = 1 / x[j];
      net.params[2000] = 0;
      const m = net.trainOutputs(batch)[0];
      expect([0, 1 / 0.7].some((v) => Math.abs(m - v) < 1e-12), `mask ${m} at ${j}`).toBe(true);
      if (m === 0) dropped++;
    }
    // Binomial(2000, 0.3): sd ≈ 20.5, so ±110 is over 5 sd.
    expect(Math.abs(dropped - 600)).toBeLessThan(110);
  });

  it.each([1, 2, 3])('rank %i: loss, gradient and Hv see one mask per step (finite differences)', (rank) => {
    const { net, rng, batch } = setup(rank);
    const g = new Float64Array(net.paramCount);
    const l = net.gradient(batch, g);
    expect(net.loss(batch)).toBe(l);
    expect(relError(g, numericGradient(() => net.loss(batch), net.params))).toBeLessThan(FD);
    const v = randn(rng, net.paramCount);
    const hv = new Float64Array(net.paramCount);
    net.curvature(batch).hv(v, hv);
    expect(relError(hv, numericHv(net, batch, v))).toBeLessThan(FD);
  });

  it('a slice of the batch (HF curvature batch) sees the same masks sample by sample', () => {
    const { net, batch } = setup(2);
    net.gradient(batch, new Float64Array(net.paramCount));
    const whole = net.trainOutputs(batch);
    const head = net.trainOutputs(sliceBatch(batch, 0, 2));
    expect(Array.from(head)).toEqual(Array.from(whole.subarray(0, 6)));
  });

  it('a new batch starts a new step (new masks); nextStep() too; state() restores the step exactly', () => {
    const { net, rng, batch } = setup(2);
    const g = new Float64Array(net.paramCount);
    net.gradient(batch, g);
    const first = net.trainOutputs(batch);
    net.gradient(batch, g);
    expect(Array.from(net.trainOutputs(batch))).toEqual(Array.from(first));
    const saved = net.state();
    net.gradient(randomBatch(rng, IN[2], 6, 3), g);
    const second = net.trainOutputs(batch);
    expect(relError(second, first)).toBeGreaterThan(1e-3);
    net.nextStep();
    expect(relError(net.trainOutputs(batch), second)).toBeGreaterThan(1e-3);
    const fresh = setup(2).net;
    fresh.loadState(saved);
    expect(Array.from(fresh.trainOutputs(batch))).toEqual(Array.from(first));
    // Evaluation ignores masks altogether.
    expect(Array.from(fresh.predict(batch.x, 6))).toEqual(Array.from(net.predict(batch.x, 6)));
  });

  it('a curvature keeps the masks of its step after gradient() moves on to another batch', () => {
    const { net, rng, batch } = setup(2);
    net.gradient(batch, new Float64Array(net.paramCount));
    const c = net.curvature(batch);
    const v = randn(rng, net.paramCount);
    const [before, after] = [new Float64Array(net.paramCount), new Float64Array(net.paramCount)];
    c.hv(v, before);
    net.gradient(randomBatch(rng, IN[2], 6, 3), new Float64Array(net.paramCount));
    c.hv(v, after);
    expect(Array.from(after)).toEqual(Array.from(before));
  });

  it('dropout before batch norm: Hv by finite differences (both couple through one step)', () => {
    const specs = [conv({ channels: 2, kernel: 2 }), dropout(0.4), batchNorm(), flatten(), dense({ units: 3 })];
    const { net, rng, batch } = setup(2, specs);
    const v = randn(rng, net.paramCount);
    const hv = new Float64Array(net.paramCount);
    net.gradient(batch, new Float64Array(net.paramCount));
    net.curvature(batch).hv(v, hv);
    expect(relError(hv, numericHv(net, batch, v))).toBeLessThan(FD);
  });

  it('rejects p outside [0, 1)', () => {
    expect(() => new Network(B, [4], [dropout(1), dense({ units: 2 })])).toThrow(/dropout probability must be in \[0, 1\), got 1/);
    expect(() => new Network(B, [4], [dropout(-0.1), dense({ units: 2 })])).toThrow(/got -0.1/);
  });
});

describe('given masks (PassMode.masks)', () => {
  it('a given 0/1 keep-mask replaces the drawn one, scaled by 1/(1 − p); a wrong size or value is named', () => {
    const layer = new Dropout(B, 'dropout#0', [2, 3], 0.25);
    const x = randn(new Rng(4), 12);
    const mask = Float64Array.from({ length: 12 }, (_, i) => (i % 3 === 0 ? 0 : 1));
    const mode = { training: true, updateStats: false, keys: null, masks: new Map([['dropout#0', mask]]) };
    const y = B.download(layer.forward(B.wrap([2, 2, 3], x), [], mode));
    expect(Array.from(y)).toEqual(Array.from(x, (v, i) => v * (mask[i] * (1 / 0.75))));
    const dx = B.download(layer.backward(B.wrap([2, 2, 3], new Float64Array(12).fill(1))));
    expect(Array.from(dx)).toEqual(Array.from(mask, (m) => m * (1 / 0.75)));
    expect(() => layer.forward(B.wrap([1, 2, 3], x.subarray(0, 6)), [], mode)).toThrow(/dropout#0: the given mask has 12 values, the batch \[1, 2, 3\] needs 6/);
    const half = { ...mode, masks: new Map([['dropout#0', new Float64Array(12).fill(0.5)]]) };
    expect(() => layer.forward(B.wrap([2, 2, 3], x), [], half)).toThrow(/mask values must be 0 \(drop\) or 1 \(keep\), got 0.5 at element 0/);
  });
});
