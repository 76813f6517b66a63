/**
 * Whole networks on the GPU backend against the CPU backend, both float32, in every rank:
 * loss, gradient, Hv, Gv, a few plain SGD steps, and device memory over many steps.
 *
 * Tolerance: both backends round every sum to float32 (ε32 ≈ 1.2e-7) but in different orders
 * (GEMM blocks vs per-thread loops, two-stage reductions), so each result differs by rounding
 * only, compounded by the forward, backward and R-passes over sums of at most a few hundred
 * terms: measured relative errors are 1e-7..7e-7 (1..6 ε32) on headlessgl. 2e-5 (~170 ε32)
 * leaves a 30× margin; a wrong index, a missing term or a wrong derivative shows up at O(1e-2..1).
 */
import { describe, expect, it } from 'vitest';
import type { Network } from '../../src/network/index.js';
import { cpuBackend } from '../../src/nd/backends/cpu/index.js';
import type { Batch } from '../../src/nd/model.js';
import { Rng } from '../../src/nd/rng.js';
import { randn, relError } from '../helpers.js';
import { build, NETS, NEW_NETS } from './nets.js';
import { gpu, gpuTitle, skipGpu } from './gpu-mode.js';

const TOL = 2e-5;
const CPU = cpuBackend('float32');

describe.skipIf(skipGpu)(gpuTitle('networks on the GPU match the CPU (float32)'), () => {
  for (const [nets, what] of [[NETS, 'conv, max-pool, dense'], [NEW_NETS, 'residual blocks, average pools, GELU, leaky ReLU, softplus']] as const) {
    for (const rank of [1, 2, 3]) {
      for (const loss of ['softmax-cross-entropy', 'mse'] as const) {
        it(`${what}: rank ${rank}, ${loss}: forward, gradient, Hv, Gv`, () => {
          const c = build(CPU, rank, loss, nets);
          const g = build(gpu(), rank, loss, nets);
          expect(Array.from(g.net.params)).toEqual(Array.from(c.net.params));
          expect(relError(g.net.predict(g.batch.x, 4), c.net.predict(c.batch.x, 4))).toBeLessThan(TOL);
          const [gc, gg] = [new Float32Array(c.net.paramCount), new Float32Array(c.net.paramCount)];
          const [lc, lg] = [c.net.gradient(c.batch, gc), g.net.gradient(g.batch, gg)];
          expect(Math.abs(lg - lc) / Math.abs(lc)).toBeLessThan(TOL);
          expect(relError(gg, gc)).toBeLessThan(TOL);
          const v = Float32Array.from(randn(new Rng(5), c.net.paramCount));
          const [cc, cg] = [c.net.curvature(c.batch), g.net.curvature(g.batch)];
          for (const which of ['hv', 'gv'] as const) {
            const [oc, og] = [new Float32Array(v.length), new Float32Array(v.length)];
            cc[which](v, oc);
            cg[which](v, og);
            expect(relError(og, oc), which).toBeLessThan(TOL);
          }
        });
      }
    }
  }

  it('plain SGD (θ ← θ − η∇L) follows the same loss trajectory on both backends', () => {
    const c = build(CPU, 2, 'softmax-cross-entropy');
    const g = build(gpu(), 2, 'softmax-cross-entropy');
    const lr = 0.5;
    const traj = (net: Network, batch: Batch) => {
      const grad = new Float32Array(net.paramCount);
      const losses: number[] = [];
      for (let step = 0; step < 8; step++) {
        losses.push(net.gradient(batch, grad));
        for (let i = 0; i < grad.length; i++) net.params[i] -= lr * grad[i];
      }
      return losses;
    };
    const [lc, lg] = [traj(c.net, c.batch), traj(g.net, g.batch)];
    // Training must actually move, or the comparison would be empty.
    expect(lc[7]).toBeLessThan(0.9 * lc[0]);
    // Rounding differences feed back through the updates; 8 steps of lr 0.5 amplify them a few times.
    for (let s = 0; s < lc.length; s++) expect(Math.abs(lg[s] - lc[s]) / lc[s], `step ${s}`).toBeLessThan(5 * TOL);
  });
});

describe.skipIf(skipGpu)(gpuTitle('device memory over a training run'), () => {
  it('live buffers and GL textures do not grow over 40 gradient and curvature steps', () => {
    const b = gpu();
    const { net, batch } = build(b, 2, 'softmax-cross-entropy');
    const grad = new Float32Array(net.paramCount);
    const out = new Float32Array(net.paramCount);
    const step = () => {
      net.gradient(batch, grad);
      for (let i = 0; i < grad.length; i++) net.params[i] -= 0.1 * grad[i];
      net.curvature(batch).gv(grad, out);
    };
    // Two warm-up steps compile every kernel and size the layers' reusable buffers.
    step();
    step();
    const before = b.stats();
    for (let i = 0; i < 40; i++) step();
    const after = b.stats();
    expect(after.kernels).toBe(before.kernels);
    expect(after.buffers).toBe(before.buffers);
    if (before.glTextures !== null) expect(after.glTextures).toBe(before.glTextures);
  });
});
