/**
 * padding 'same' on the GPU backend in every rank: the spatial shape is kept and the network's
 * outputs, gradient and Hv match the CPU backend's float32 results with the same parameters.
 * Tolerance 2e-5 for the reasons given in network.test.ts (float32 rounding in different orders).
 */
import { describe, expect, it } from 'vitest';
import { conv, dense, flatten } from '../../src/layers/index.js';
import { Network } from '../../src/network/index.js';
import type { Backend } from '../../src/nd/backend.js';
import { cpuBackend } from '../../src/nd/backends/cpu/index.js';
import { Rng } from '../../src/nd/rng.js';
import { randn, randomBatch, relError } from '../helpers.js';
import { gpu, gpuTitle, skipGpu } from './gpu-mode.js';

const TOL = 2e-5;
const SHAPES: Record<number, { inShape: number[]; kernel: number[]; dilation: number[] }> = {
  1: { inShape: [2, 12], kernel: [5], dilation: [2] },
  2: { inShape: [1, 7, 8], kernel: [3, 5], dilation: [1, 1] },
  3: { inShape: [2, 4, 5, 4], kernel: [3, 3, 1], dilation: [1, 2, 1] },
};

function build(backend: Backend, rank: number): Network {
  const { inShape, kernel, dilation } = SHAPES[rank];
  return new Network(backend, inShape, [conv({ channels: 3, kernel, dilation, padding: 'same', activation: 'tanh' }), flatten(), dense({ units: 3 })], { seed: 2 });
}

describe.skipIf(skipGpu)(gpuTitle("padding 'same' on the GPU matches the CPU (float32)"), () => {
  for (const rank of [1, 2, 3]) {
    it(`rank ${rank}: shape kept; outputs, gradient and Hv agree`, () => {
      const c = build(cpuBackend('float32'), rank);
      const g = build(gpu(), rank);
      expect(g.layers[0].outShape).toEqual([3, ...SHAPES[rank].inShape.slice(1)]);
      const b = randomBatch(new Rng(rank), SHAPES[rank].inShape, 3, 3);
      const batch = { x: Float32Array.from(b.x), y: b.y, n: 3 };
      expect(relError(g.predict(batch.x), c.predict(batch.x))).toBeLessThan(TOL);
      const [gc, gg] = [new Float32Array(c.paramCount), new Float32Array(c.paramCount)];
      c.gradient(batch, gc);
      g.gradient(batch, gg);
      expect(relError(gg, gc)).toBeLessThan(TOL);
      const v = Float32Array.from(randn(new Rng(7), c.paramCount));
      const [hc, hg] = [new Float32Array(v.length), new Float32Array(v.length)];
      c.curvature(batch).hv(v, hc);
      g.curvature(batch).hv(v, hg);
      expect(relError(hg, hc)).toBeLessThan(TOL);
      g.dispose();
    });
  }
});
