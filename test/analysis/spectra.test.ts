/**
 * Curvature analysis against the explicit matrices: on small float64 networks of rank 1, 2 and 3,
 * H and G are assembled column by column from the operator's own products (A e_j) and
 * diagonalised densely (ml-matrix's symmetric eigensolver); every estimator is checked against
 * that exact spectrum.
 */
import { describe, expect, it } from 'vitest';
import {
  CurvatureOperator,
  hutchinsonTrace,
  perBlock,
  powerIteration,
  spectralDensity,
  topEigenpairs,
  type OperatorKind,
} from '../../src/analysis/index.js';
import { conv, dense, flatten, maxPool, parameterBlocks, type LayerSpec } from '../../src/layers/index.js';
import { Network } from '../../src/network/index.js';
import { cpuBackend } from '../../src/nd/backends/cpu/index.js';
import type { Batch } from '../../src/nd/model.js';
import { Rng } from '../../src/nd/rng.js';
import { randn, randomBatch, relError } from '../helpers.js';
import { assemble, asymmetry, exactEigen, subBlock, wasserstein1 } from './dense.js';

const B = cpuBackend('float64');
const N = 12;

interface Case {
  rank: number;
  inShape: number[];
  specs: LayerSpec[];
  loss: 'mse' | 'softmax-cross-entropy';
}

const CASES: Case[] = [
  { rank: 1, inShape: [2, 10], specs: [conv({ channels: 3, kernel: 3, activation: 'tanh' }), maxPool({ window: 2 }), flatten(), dense({ units: 3 })], loss: 'mse' },
  { rank: 2, inShape: [1, 6, 6], specs: [conv({ channels: 2, kernel: 3, activation: 'sigmoid' }), maxPool({ window: 2 }), flatten(), dense({ units: 3 })], loss: 'softmax-cross-entropy' },
  { rank: 3, inShape: [1, 4, 4, 4], specs: [conv({ channels: 2, kernel: 2, activation: 'tanh' }), flatten(), dense({ units: 3 })], loss: 'softmax-cross-entropy' },
];

function setup(c: Case, kind: OperatorKind, batchSize = 5) {
  const net = new Network(B, c.inShape, c.specs, { loss: c.loss, seed: 3 });
  const rng = new Rng(7);
  const b = randomBatch(rng, c.inShape, N, 3);
  const data: Batch = c.loss === 'mse' ? { ...b, y: randn(rng, 3 * N) } : b;
  // Batches of 5, 5 and 2: the uneven last batch checks the (n_b / N) weighting.
  const op = new CurvatureOperator(net, data, { operator: kind, batchSize });
  const a = assemble(op);
  return { net, data, op, a, exact: exactEigen(a) };
}

const trace = (a: number[][]) => a.reduce((s, row, i) => s + row[i], 0);

describe.each(CASES)('rank $rank network ($loss)', (c) => {
  describe.each(['hessian', 'gauss-newton'] as const)('%s', (kind) => {
    const { net, data, op, a, exact } = setup(c, kind);
    const top = Math.max(...exact.values.map(Math.abs));

    it('the operator is the mean over the whole data set, symmetric (G also positive semi-definite)', () => {
      const whole = new CurvatureOperator(net, data, { operator: kind });
      expect(whole.batches).toBe(1);
      expect(op.batches).toBe(3);
      const v = randn(new Rng(1), op.dim);
      const [u, w] = [new Float64Array(op.dim), new Float64Array(op.dim)];
      op.apply(v, u);
      whole.apply(v, w);
      // Same sums in another grouping: float64 rounding, ~1e-15 relative.
      expect(relError(u, w)).toBeLessThan(1e-12);
      expect(asymmetry(a)).toBeLessThan(1e-10);
      if (kind === 'gauss-newton') expect(exact.values[exact.values.length - 1]).toBeGreaterThan(-1e-10 * top);
    });

    it('Lanczos top-4 eigenpairs match the dense eigensolver to 1e-8, residuals reported', () => {
      const r = topEigenpairs(op, { k: 4, tol: 1e-10, seed: 2 });
      expect(r.converged).toEqual([true, true, true, true]);
      r.values.forEach((v, i) => expect(Math.abs(v - exact.values[i])).toBeLessThan(1e-8 * top));
      r.residuals.forEach((res) => expect(res).toBeLessThan(1e-9 * top));
      // The Ritz vector is the eigenvector (up to sign) where the eigenvalue is simple.
      const gap = exact.values[0] - exact.values[1];
      if (gap > 1e-3 * top) expect(Math.abs(r.vectors[0].reduce((s, x, i) => s + x * exact.vectors[0][i], 0))).toBeGreaterThan(1 - 1e-8);
    });

    it('power iteration agrees on the eigenvalue of largest magnitude', () => {
      const p = powerIteration(op, { tol: 1e-10, maxIterations: 20000, seed: 4 });
      expect(p.converged).toBe(true);
      const biggest = exact.values.reduce((m, v) => (Math.abs(v) > Math.abs(m) ? v : m));
      // |θ − λ| ≤ residual for a Rayleigh quotient, and residual ≤ 1e-10·|θ|.
      expect(Math.abs(p.value - biggest)).toBeLessThan(1e-8 * top);
    });

    it('per-block operators are the explicit diagonal sub-blocks; their top eigenvalues match', () => {
      const blocks = parameterBlocks(net);
      expect(blocks.map((b) => b.size).reduce((s, v) => s + v, 0)).toBe(net.paramCount);
      const results = perBlock(op, blocks, (sub) => ({ top: topEigenpairs(sub, { k: 2, tol: 1e-10 }), matrix: assemble(sub) }));
      for (const { block, result } of results) {
        const explicit = subBlock(a, block.offset, block.size);
        // The same products restricted: equal up to float64 rounding.
        expect(relError(result.matrix.flat(), explicit.flat())).toBeLessThan(1e-12);
        const sub = exactEigen(explicit);
        const scale = Math.max(...sub.values.map(Math.abs));
        result.top.values.forEach((v, i) => expect(Math.abs(v - sub.values[i])).toBeLessThan(1e-8 * scale));
      }
    });
  });
});

describe('Hutchinson trace', () => {
  const { op, a } = setup(CASES[1], 'hessian');
  const exactTrace = trace(a);
  // Var(zᵀAz) = 2 Σ_{i≠j} A_ij² for Rademacher z (A symmetric).
  let off = 0;
  a.forEach((row, i) => row.forEach((v, j) => (off += i === j ? 0 : v * v)));
  const exactSd = Math.sqrt(2 * off);

  it('is unbiased: with 400 probes, for each of 5 seeds, within 3 standard errors of the exact trace', () => {
    // 400 probes make the mean close to normal (CLT) and the sample SE good to ~5-10 %, so each
    // seed misses 3 SE with probability ≈ 0.3 %; a bias of a few per cent of the trace would show.
    for (const seed of [1, 2, 3, 4, 5]) {
      const t = hutchinsonTrace(op, { maxProbes: 400, seed });
      expect(t.probes).toBe(400);
      expect(Math.abs(t.trace - exactTrace)).toBeLessThan(3 * t.stdError);
      // The reported SE estimates the exact sd/√M to within 25 % (sampling error of an sd of 400 draws).
      expect(Math.abs(t.stdError - exactSd / 20) / (exactSd / 20)).toBeLessThan(0.25);
    }
  });

  it('stops once the relative standard error falls below the target', () => {
    const t = hutchinsonTrace(op, { maxProbes: 5000, relativeStdError: 0.05, seed: 9 });
    expect(t.stdError).toBeLessThanOrEqual(0.05 * Math.abs(t.trace));
    expect(t.probes).toBeLessThan(5000);
    expect(t.probes).toBeGreaterThanOrEqual(10);
  });
});

describe('stochastic Lanczos quadrature', () => {
  for (const c of CASES) {
    it(`rank ${c.rank}: the density integrates to 1 and matches the exact eigenvalue distribution`, () => {
      const { op, exact } = setup(c, 'hessian');
      const steps = Math.min(30, op.dim - 10);
      const d = spectralDensity(op, { probes: 20, steps, seed: 5, points: 2000 });
      for (const r of d.ritz) expect(Math.abs(r.weights.reduce((s, w) => s + w, 0) - 1)).toBeLessThan(1e-12);
      // Trapezoid rule over ±5σ beyond the extreme nodes: the tails hold < 6e-7 of the mass and the
      // grid spacing (< σ/10) integrates Gaussians to far better than that.
      let integral = 0;
      for (let i = 1; i < d.grid.length; i++) integral += 0.5 * (d.density[i] + d.density[i - 1]) * (d.grid[i] - d.grid[i - 1]);
      expect(Math.abs(integral - 1)).toBeLessThan(1e-5);

      const estimate = d.ritz.flatMap((r) => r.values.map((x, j) => ({ x, w: r.weights[j] / d.ritz.length })));
      const truth = exact.values.map((x) => ({ x, w: 1 / exact.values.length }));
      const range = exact.values[0] - exact.values[exact.values.length - 1];
      const w1 = wasserstein1(estimate, truth);
      // Two errors: the m-node Gauss quadrature of each probe's measure (W1 ≲ range/m for m nodes
      // spread over the spectrum) and the probes' random weights ((uᵢᵀv)² has relative sd √2 per
      // eigenvector, averaged over 20 probes). Together a few per cent of the range at most
      // (measured: 0.65-0.99 %); 5 % bounds it with room, while shifting the exact spectrum by 10 % of the range (W1 = 0.1·range) must fail.
      expect(w1).toBeLessThan(0.05 * range);
      const shifted = truth.map((p) => ({ x: p.x + 0.1 * range, w: p.w }));
      expect(wasserstein1(estimate, shifted)).toBeGreaterThan(0.05 * range);
    });
  }
});

describe('bad input', () => {
  const { net, data, op } = setup(CASES[0], 'hessian');
  it('names the problem', () => {
    expect(() => topEigenpairs(op, { k: 0 })).toThrow(/k must be a positive integer/);
    expect(() => topEigenpairs(op, { k: op.dim + 1 })).toThrow(/exceeds the operator's dimension/);
    expect(() => new CurvatureOperator(net, data, { batchSize: 0 })).toThrow(/batch size/);
    expect(() => new CurvatureOperator(net, data, { operator: 'newton' as never })).toThrow(/unknown operator 'newton' \(known: hessian, gauss-newton, fisher, empirical-fisher\)/);
    expect(() => perBlock(op, [{ name: 'x', offset: op.dim - 1, size: 2 }], () => 0)).toThrow(/does not lie inside/);
    expect(() => hutchinsonTrace(op, { maxProbes: 0 })).toThrow(/maxProbes/);
    expect(() => spectralDensity(op, { probes: 0 })).toThrow(/probes/);
  });
});
