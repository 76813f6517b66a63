/**
 * Softmax cross-entropy with soft targets (label smoothing, mixup): the loss, dE/dz and H_L·u
 * against PyTorch's F.cross_entropy with probability targets in float64
 * (fixtures/soft_targets_torch.py, its output committed beside it), and through a network:
 * the gradient and Hv against finite differences, Gv against labels (a distribution's rows sum
 * to 1, so G does not depend on the targets) and the s_r-scaling of rows that do not.
 *
 * Tolerances: the loss-level values are the same float64 formulas as PyTorch's, differing in the
 * order of a k = 5 term sum and libm's exp/log (a few ε64 each), so 1e-12 relative leaves a
 * margin of ~1000; the finite-difference checks keep the 1e-6 of helpers.ts.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { conv, dense, flatten, losses } from '../../src/layers/index.js';
import { Network } from '../../src/network/index.js';
import { cpuBackend } from '../../src/nd/backends/cpu/index.js';
import { Rng } from '../../src/nd/rng.js';
import { numericGradient, numericHv, randn, randomBatch, relError } from '../helpers.js';

interface Fixture { n: number; k: number; z: number[]; t: number[]; u: number[]; loss: number; grad: number[]; hu: number[] }
const ref = JSON.parse(readFileSync(new URL('./fixtures/soft-targets-torch.json', import.meta.url), 'utf8')) as Fixture;
const ce = losses['softmax-cross-entropy'];
const B = cpuBackend('float64');

describe('softmax cross-entropy with soft targets against PyTorch (float64)', () => {
  const t = Float64Array.from(ref.t);
  it('loss and dE/dz', () => {
    const grad = new Float64Array(ref.n * ref.k);
    expect(Math.abs(ce.value(ref.z, t, ref.n, ref.k, grad) - ref.loss) / Math.abs(ref.loss)).toBeLessThan(1e-12);
    expect(relError(grad, ref.grad)).toBeLessThan(1e-12);
  });
  it('H_L·u (rows summing to 1 and to 1.7)', () => {
    const hu = new Float64Array(ref.n * ref.k);
    ce.hessianVec(ref.z, t, ref.n, ref.k, ref.u, hu);
    expect(relError(hu, ref.hu)).toBeLessThan(1e-12);
  });
  it('one-hot rows give exactly what the labels give', () => {
    const labels = Int32Array.from([1, 0, 3, 4]);
    const onehot = new Float64Array(ref.n * ref.k);
    labels.forEach((y, r) => (onehot[r * ref.k + y] = 1));
    const [ga, gb, ha, hb] = [0, 0, 0, 0].map(() => new Float64Array(ref.n * ref.k));
    expect(ce.value(ref.z, onehot, ref.n, ref.k, ga)).toBe(ce.value(ref.z, labels, ref.n, ref.k, gb));
    expect(ga).toEqual(gb);
    ce.hessianVec(ref.z, onehot, ref.n, ref.k, ref.u, ha);
    ce.hessianVec(ref.z, labels, ref.n, ref.k, ref.u, hb);
    expect(ha).toEqual(hb);
  });
  it('refuses negative or non-finite weights and a wrong count, naming the sample', () => {
    const bad = Float64Array.from(ref.t);
    bad[7] = -0.1;
    expect(() => ce.value(ref.z, bad, ref.n, ref.k)).toThrow(/target weight -0.1 of sample 1/);
    bad[7] = NaN;
    expect(() => ce.checkTargets(bad, ref.n, ref.k)).toThrow(/target weight NaN of sample 1/);
    expect(() => ce.checkTargets(new Float64Array(7), ref.n, ref.k)).toThrow(/7 labels for 4 samples \(or 20 soft targets/);
  });
});

describe('a network trained on soft targets', () => {
  const inShape = [2, 9];
  const specs = [conv({ channels: 3, kernel: 3, activation: 'tanh' }), flatten(), dense({ units: 4, activation: 'tanh' }), dense({ units: 3 })];
  const setup = () => {
    const net = new Network(B, inShape, specs, { seed: 3 });
    const rng = new Rng(5);
    const b = randomBatch(rng, inShape, 4, 3);
    // Smoothed labels mixed in pairs, as label smoothing 0.1 and mixup at λ = 0.7 make them.
    const smooth = (y: number) => Float64Array.from({ length: 3 }, (_, j) => (j === y ? 0.9 : 0) + 0.1 / 3);
    const y = new Float64Array(12);
    for (let r = 0; r < 4; r++) {
      const a = smooth(b.y[r]);
      const c = smooth(b.y[(r + 1) % 4]);
      for (let j = 0; j < 3; j++) y[r * 3 + j] = 0.7 * a[j] + 0.3 * c[j];
    }
    return { net, rng, labels: b, soft: { x: b.x, y, n: 4 } };
  };
  it('gradient and Hv against finite differences', () => {
    const { net, rng, soft } = setup();
    const g = new Float64Array(net.paramCount);
    net.gradient(soft, g);
    expect(relError(g, numericGradient(() => net.loss(soft), net.params))).toBeLessThan(1e-6);
    const v = randn(rng, net.paramCount);
    const hv = new Float64Array(net.paramCount);
    net.curvature(soft).hv(v, hv);
    expect(relError(hv, numericHv(net, soft, v))).toBeLessThan(1e-6);
  });
  it('Gv with distributions as targets is Gv with the labels; weights summing to s scale it by s', () => {
    const { net, rng, labels, soft } = setup();
    const v = randn(rng, net.paramCount);
    const [a, b, c] = [0, 0, 0].map(() => new Float64Array(net.paramCount));
    net.curvature(soft).gv(v, a);
    net.curvature(labels).gv(v, b);
    expect(relError(a, b)).toBeLessThan(1e-14);
    net.curvature({ ...soft, y: soft.y.map((w) => 2.5 * w) }).gv(v, c);
    expect(relError(c, b.map((w) => 2.5 * w))).toBeLessThan(1e-14);
  });
});
