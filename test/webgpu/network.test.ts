/**
 * Whole networks on the WebGPU backend against the CPU backend, both float32, in every rank,
 * through the asynchronous passes (the synchronous ones cannot read back there): outputs, loss,
 * gradient, Hv and Gv, a few SGD, Adam and HF steps, Lanczos/Hutchinson/SLQ, device memory over
 * many steps, and the refusals.
 *
 * Tolerance as for gpu.js (test/gpu/network.test.ts): both backends round every sum to float32
 * in different orders (64×64 GEMM tiles and workgroup trees here, OpenBLAS or cache blocks
 * there), compounded over the forward, backward and R-passes of sums of at most a few hundred
 * terms, so a few ε32 (~1e-7..1e-6); 2e-5 leaves a wide margin, while a wrong index, a missing
 * term or a wrong derivative shows up at O(1e-2..1).
 */
import { describe, expect, it } from 'vitest';
import { activation, batchNorm, conv, dense, dropout, flatten, maxPool } from '../../src/layers/index.js';
import { Network } from '../../src/network/index.js';
import { CurvatureOperator, hutchinsonTrace, hutchinsonTraceAsync, spectralDensity, spectralDensityAsync, topEigenpairs, topEigenpairsAsync } from '../../src/analysis/index.js';
import type { Batch } from '../../src/nd/model.js';
import { createOptimizer, HessianFree, train } from '../../src/optim/index.js';
import { cpuBackend } from '../../src/nd/backends/cpu/index.js';
import { Rng } from '../../src/nd/rng.js';
import { randn, relError } from '../helpers.js';
import { build, NETS, NEW_NETS } from '../gpu/nets.js';
import { skipWebgpu, webgpu, webgpuTitle } from './webgpu-env.js';

const TOL = 2e-5;
const CPU = cpuBackend('float32');

describe.skipIf(skipWebgpu)(webgpuTitle('networks on WebGPU match the CPU (float32)'), () => {
  for (const [nets, what] of [[NETS, 'conv, max-pool, dense'], [NEW_NETS, 'residual blocks, average pools, GELU, leaky ReLU, softplus']] as const) {
    for (const rank of [1, 2, 3]) {
      // The newer layers under one loss: SwiftShader's seconds a network are what CI pays here.
      for (const loss of nets === NETS ? (['softmax-cross-entropy', 'mse'] as const) : (['softmax-cross-entropy'] as const)) {
        it(`${what}: rank ${rank}, ${loss}: forward, loss, gradient, Hv, Gv`, async () => {
          const c = build(CPU, rank, loss, nets);
          const g = build(webgpu(), rank, loss, nets);
          expect(Array.from(g.net.params)).toEqual(Array.from(c.net.params));
          expect(relError(await g.net.predictAsync(g.batch.x, 4), c.net.predict(c.batch.x, 4))).toBeLessThan(TOL);
          const lc = c.net.loss(c.batch);
          expect(Math.abs((await g.net.lossAsync(g.batch)) - lc) / lc).toBeLessThan(TOL);
          const [gc, gg] = [new Float32Array(c.net.paramCount), new Float32Array(c.net.paramCount)];
          c.net.gradient(c.batch, gc);
          expect(Math.abs((await g.net.gradientAsync(g.batch, gg)) - lc) / lc).toBeLessThan(TOL);
          expect(relError(gg, gc)).toBeLessThan(TOL);
          const v = Float32Array.from(randn(new Rng(5), c.net.paramCount));
          const [cc, cg] = [c.net.curvature(c.batch), await g.net.curvatureAsync(g.batch)];
          for (const which of ['hv', 'gv'] as const) {
            const [oc, og] = [new Float32Array(v.length), new Float32Array(v.length)];
            cc[which](v, oc);
            await cg[which](v, og);
            expect(relError(og, oc), which).toBeLessThan(TOL);
          }
          g.net.dispose();
        });
      }
    }
  }

  for (const inShape of [[2, 8, 7], [1, 5, 4, 6]]) {
    it(`batch norm (its per-channel sums are read points) and dropout: rank ${inShape.length - 1}`, async () => {
      const specs = [
        conv({ channels: 3, kernel: 3, padding: 1 }), batchNorm(), activation('relu'), maxPool({ window: 2 }),
        flatten(), dense({ units: 6 }), batchNorm(), dropout(0.3), dense({ units: 3 }),
      ];
      const [c, g] = [new Network(CPU, inShape, specs, { seed: 4 }), new Network(webgpu(), inShape, specs, { seed: 4 })];
      const size = inShape.reduce((a, b) => a * b, 1);
      const batch = { x: Float32Array.from(randn(new Rng(2), 5 * size)), y: Int32Array.from([0, 2, 1, 1, 0]), n: 5 };
      const [gc, gg] = [new Float32Array(c.paramCount), new Float32Array(c.paramCount)];
      const lc = c.gradient(batch, gc);
      expect(Math.abs((await g.gradientAsync(batch, gg)) - lc) / lc).toBeLessThan(TOL);
      expect(relError(gg, gc)).toBeLessThan(TOL);
      // The gradient pass updated the running statistics on both alike.
      expect(relError(Float64Array.from(g.namedBuffers()[0].data), Float64Array.from(c.namedBuffers()[0].data))).toBeLessThan(TOL);
      expect(relError(await g.predictAsync(batch.x), c.predict(batch.x))).toBeLessThan(TOL);
      const v = Float32Array.from(randn(new Rng(6), c.paramCount));
      const [cc, cg] = [c.curvature(batch), await g.curvatureAsync(batch)];
      for (const which of ['hv', 'gv'] as const) {
        const [oc, og] = [new Float32Array(v.length), new Float32Array(v.length)];
        cc[which](v, oc);
        await cg[which](v, og);
        expect(relError(og, oc), which).toBeLessThan(TOL);
      }
      g.dispose();
    });
  }

  it('the synchronous passes are refused with the asynchronous ones named', () => {
    const { net, batch } = build(webgpu(), 2, 'softmax-cross-entropy');
    expect(net.asyncReads).toBe(true);
    expect(() => net.loss(batch)).toThrow(/reads back only asynchronously.*lossAsync/);
    expect(() => net.predict(batch.x, 4)).toThrow(/reads back only asynchronously/);
    net.dispose();
  });
});

describe.skipIf(skipWebgpu)(webgpuTitle('train() on WebGPU'), () => {
  for (const name of ['sgd', 'adam'] as const) {
    it(`${name}: the async step follows the CPU's loss trajectory`, async () => {
      const run = async (net: Network, x: Float32Array, y: Int32Array | Float32Array) => {
        const losses: number[] = [];
        const optimizer = createOptimizer(name, name === 'sgd' ? { lr: 0.3, momentum: 'nesterov' } : { lr: 0.02 });
        await train(net, { x, y, sampleSize: x.length / 4 }, { optimizer, epochs: 6, batchSize: 2, seed: 3, onStep: ({ report }) => void losses.push(report.loss) });
        return losses;
      };
      const c = build(CPU, 2, 'softmax-cross-entropy');
      const g = build(webgpu(), 2, 'softmax-cross-entropy');
      const before = c.net.loss(c.batch);
      const [lc, lg] = [await run(c.net, c.batch.x as Float32Array, c.batch.y as Int32Array), await run(g.net, g.batch.x as Float32Array, g.batch.y as Int32Array)];
      expect(lg.length).toBe(12);
      // Training must move, or the comparison would be empty.
      expect(c.net.loss(c.batch)).toBeLessThan(0.95 * before);
      // Rounding differences feed back through 12 updates; they stay a few times the one-pass bound.
      for (let s = 0; s < lc.length; s++) expect(Math.abs(lg[s] - lc[s]) / lc[s], `step ${s}`).toBeLessThan(10 * TOL);
      expect(relError(g.net.params, c.net.params)).toBeLessThan(10 * TOL);
      g.net.dispose();
    });
  }

  it('Hessian-free: the async step (CG on the host, Gv products on the device) follows the CPU', async () => {
    const run = async (net: Network) => {
      const hf = new HessianFree({ maxCgIterations: 12 });
      const reports = [];
      for (let s = 0; s < 3; s++) reports.push(net.asyncReads ? await hf.stepAsync(net, batchOf(net)) : hf.step(net, batchOf(net)));
      return reports;
    };
    const c = build(CPU, 2, 'softmax-cross-entropy');
    const g = build(webgpu(), 2, 'softmax-cross-entropy');
    const batchOf = (net: Network) => (net === c.net ? c.batch : g.batch) as Batch;
    const [rc, rg] = [await run(c.net), await run(g.net)];
    expect(rc.some((r) => r.accepted)).toBe(true);
    for (let s = 0; s < rc.length; s++) {
      // The same discrete choices (CG iterations, backtracking, line search), then close values.
      expect([rg[s].cgIterations, rg[s].cgChosen, rg[s].accepted], `step ${s}`).toEqual([rc[s].cgIterations, rc[s].cgChosen, rc[s].accepted]);
      expect(Math.abs(rg[s].lossAfter - rc[s].lossAfter) / rc[s].lossAfter, `step ${s}`).toBeLessThan(10 * TOL);
    }
    expect(relError(g.net.params, c.net.params)).toBeLessThan(10 * TOL);
    g.net.dispose();
  });

  it('an optimizer without an asynchronous step is refused by name', async () => {
    const { net, batch } = build(webgpu(), 2, 'softmax-cross-entropy');
    const x = batch.x as Float32Array;
    const syncOnly = { name: 'sync-only', step: () => ({ loss: 0, accepted: false }), state: () => null, loadState: () => {} };
    await expect(train(net, { x, y: batch.y, sampleSize: x.length / 4 }, { optimizer: syncOnly, epochs: 1, batchSize: 4 })).rejects.toThrow(/reads back asynchronously .*'sync-only' has no stepAsync/);
    net.dispose();
  });
});

describe.skipIf(skipWebgpu)(webgpuTitle('curvature analysis on WebGPU'), () => {
  it('Lanczos, Hutchinson and SLQ through the async operator match the CPU', async () => {
    const c = build(CPU, 1, 'softmax-cross-entropy');
    const g = build(webgpu(), 1, 'softmax-cross-entropy');
    for (const operator of ['hessian', 'gauss-newton'] as const) {
      // Two product batches: each product reruns both forward passes (the stale path).
      const [oc, og] = [new CurvatureOperator(c.net, c.batch as Batch, { operator, batchSize: 2 }), new CurvatureOperator(g.net, g.batch as Batch, { operator, batchSize: 2 })];
      expect(() => topEigenpairs(og)).toThrow(/answers asynchronously/);
      const options = { k: 2, tol: 1e-4, maxSteps: 30, seed: 3 };
      const [ec, eg] = [topEigenpairs(oc, options), await topEigenpairsAsync(og, options)];
      expect(eg.steps).toBe(ec.steps);
      for (let i = 0; i < 2; i++) expect(Math.abs(eg.values[i] - ec.values[i]) / Math.abs(ec.values[0]), `${operator} λ${i + 1}`).toBeLessThan(10 * TOL);
      const [tc, tg] = [hutchinsonTrace(oc, { maxProbes: 4, seed: 2 }), await hutchinsonTraceAsync(og, { maxProbes: 4, seed: 2 })];
      expect(Math.abs(tg.trace - tc.trace) / Math.abs(tc.trace)).toBeLessThan(10 * TOL);
      const [dc, dg] = [spectralDensity(oc, { probes: 1, steps: 6, points: 50 }), await spectralDensityAsync(og, { probes: 1, steps: 6, points: 50 })];
      expect(relError(Float64Array.from(dg.ritz[0].values), Float64Array.from(dc.ritz[0].values))).toBeLessThan(10 * TOL);
    }
    g.net.dispose();
  });
});

describe.skipIf(skipWebgpu)(webgpuTitle('device memory over a training run on WebGPU'), () => {
  it('live buffers and pipelines do not grow over 30 gradient and curvature steps', async () => {
    const b = webgpu();
    const { net, batch } = build(b, 2, 'softmax-cross-entropy');
    const grad = new Float32Array(net.paramCount);
    const out = new Float32Array(net.paramCount);
    const step = async () => {
      await net.gradientAsync(batch, grad);
      for (let i = 0; i < grad.length; i++) net.params[i] -= 0.1 * grad[i];
      await (await net.curvatureAsync(batch)).gv(grad, out);
    };
    // Two warm-up steps compile every pipeline and size the layers' reusable buffers.
    await step();
    await step();
    const before = b.stats();
    for (let i = 0; i < 30; i++) await step();
    expect(b.stats()).toEqual(before);
    net.dispose();
  });
});
