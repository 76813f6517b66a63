/**
 * Batch norm and dropout on the GPU backend against the CPU backend, both float32, ranks 1-3:
 * training outputs, gradient, Hv, Gv, evaluation with the running statistics, and device memory.
 * Tolerance as in network.test.ts (2e-5, ~170 ε32): both round every sum to float32 in another
 * order; batch norm adds per-channel means over at most a few hundred values and a 1/√(σ²+ε),
 * which keep the relative error at rounding level, while a wrong term is off by O(1e-2..1).
 */
import { describe, expect, it } from 'vitest';
import { batchNorm, conv, dense, dropout, flatten, maxPool, type LayerSpec } from '../../src/layers/index.js';
import { Network } from '../../src/network/index.js';
import type { Backend } from '../../src/nd/backend.js';
import { cpuBackend } from '../../src/nd/backends/cpu/index.js';
import type { Batch } from '../../src/nd/model.js';
import { Rng } from '../../src/nd/rng.js';
import { randn, randomBatch, relError } from '../helpers.js';
import { gpu, gpuTitle, skipGpu } from './gpu-mode.js';

const TOL = 2e-5;
const CPU = cpuBackend('float32');

const NETS: Record<number, { inShape: number[]; specs: LayerSpec[] }> = {
  1: { inShape: [2, 12], specs: [conv({ channels: 3, kernel: 3 }), batchNorm(), conv({ channels: 2, kernel: 2, activation: 'tanh' }), dropout(0.3), flatten(), dense({ units: 4 })] },
  2: { inShape: [1, 8, 7], specs: [conv({ channels: 3, kernel: 3 }), batchNorm(), maxPool({ window: 2 }), flatten(), dense({ units: 5, activation: 'tanh' }), batchNorm(), dropout(0.5), dense({ units: 3 })] },
  3: { inShape: [1, 5, 4, 5], specs: [conv({ channels: 2, kernel: 2, activation: 'sigmoid' }), batchNorm(), flatten(), dense({ units: 3 })] },
};

function build(backend: Backend, rank: number): { net: Network; batch: Batch } {
  const { inShape, specs } = NETS[rank];
  const net = new Network(backend, inShape, specs, { seed: 4 });
  const b = randomBatch(new Rng(20 + rank), inShape, 5, net.outShape[0]);
  return { net, batch: { x: Float32Array.from(b.x), y: b.y, n: 5 } };
}

describe.skipIf(skipGpu)(gpuTitle('batch norm and dropout on the GPU match the CPU (float32)'), () => {
  for (const rank of [1, 2, 3]) {
    it(`rank ${rank}: training outputs, gradient, Hv, Gv, evaluation with running statistics`, () => {
      const [c, g] = [build(CPU, rank), build(gpu(), rank)];
      const [gc, gg] = [new Float32Array(c.net.paramCount), new Float32Array(c.net.paramCount)];
      const [lc, lg] = [c.net.gradient(c.batch, gc), g.net.gradient(g.batch, gg)];
      expect(Math.abs(lg - lc) / lc).toBeLessThan(TOL);
      expect(relError(gg, gc)).toBeLessThan(TOL);
      expect(relError(g.net.trainOutputs(g.batch), c.net.trainOutputs(c.batch))).toBeLessThan(TOL);
      const v = Float32Array.from(randn(new Rng(5), c.net.paramCount));
      const [cc, cg] = [c.net.curvature(c.batch), g.net.curvature(g.batch)];
      for (const which of ['hv', 'gv'] as const) {
        const [oc, og] = [new Float32Array(v.length), new Float32Array(v.length)];
        cc[which](v, oc);
        cg[which](v, og);
        expect(relError(og, oc), which).toBeLessThan(TOL);
      }
      const [sc, sg] = [c.net.state(), g.net.state()];
      for (const key of Object.keys(sc.buffers)) expect(relError(sg.buffers[key], sc.buffers[key]), key).toBeLessThan(TOL);
      expect(relError(g.net.predict(g.batch.x, 5), c.net.predict(c.batch.x, 5))).toBeLessThan(TOL);
    });
  }

  it('device memory does not grow over 20 gradient and Hv steps', () => {
    const b = gpu();
    const { net, batch } = build(b, 2);
    const grad = new Float32Array(net.paramCount);
    const out = new Float32Array(net.paramCount);
    const step = () => {
      net.gradient(batch, grad);
      for (let i = 0; i < grad.length; i++) net.params[i] -= 0.1 * grad[i];
      net.curvature(batch).hv(grad, out);
      net.predict(batch.x, batch.n);
    };
    step();
    step();
    const before = b.stats();
    for (let i = 0; i < 20; i++) step();
    const after = b.stats();
    expect(after.kernels).toBe(before.kernels);
    expect(after.buffers).toBe(before.buffers);
  });
});
