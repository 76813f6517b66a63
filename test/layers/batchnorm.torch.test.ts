/**
 * Batch normalisation (and dropout with p = 0) against PyTorch 1.13 in float64, ranks 1-3: the
 * fixture and its generator are in fixtures/ (batchnorm_torch.py). Both sides compute the same
 * float64 formulas in other orders, so agreement is at rounding level (~1e-14 relative); 1e-10
 * leaves room for sums over a few hundred terms, while any wrong term is off by O(1e-2..1).
 * The input gradient, which the network does not expose, is checked by central differences of
 * the loss (bound 1e-6, see helpers.ts).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { activation, batchNorm, buildLayer, conv, dense, dropout, flatten } from '../../src/layers/index.js';
import { Network } from '../../src/network/index.js';
import { cpuBackend } from '../../src/nd/backends/cpu/index.js';
import type { Batch } from '../../src/nd/model.js';
import { numericGradient, relError } from '../helpers.js';

const B = cpuBackend('float64');
const TIGHT = 1e-10;
const fixture = JSON.parse(readFileSync(new URL('./fixtures/batchnorm-torch.json', import.meta.url), 'utf8'));
const f64 = (a: number[]) => Float64Array.from(a);

describe(`batch norm against PyTorch ${fixture.torch} (float64)`, () => {
  for (const rank of [1, 2, 3]) {
    const { layer: L, net: T } = fixture.ranks[rank];

    it(`rank ${rank}: the layer alone: y, dE/dx, dE/dγ, dE/dβ`, () => {
      const layer = buildLayer(B, 0, L.shape, batchNorm());
      const xShape = [L.x.length / L.shape.reduce((a: number, b: number) => a * b), ...L.shape];
      const [gamma, beta] = [f64(L.gamma), f64(L.beta)];
      const p = [B.wrap([gamma.length], gamma), B.wrap([beta.length], beta)];
      expect(relError(B.download(layer.forward(B.upload(xShape, L.x), p)), L.y)).toBeLessThan(TIGHT);
      const grads = [new Float64Array(gamma.length), new Float64Array(beta.length)];
      const dx = layer.backward(B.upload(xShape, L.r), grads.map((g) => B.wrap([g.length], g)));
      expect(relError(B.download(dx), L.dx)).toBeLessThan(TIGHT);
      expect(relError(grads[0], L.dgamma)).toBeLessThan(TIGHT);
      expect(relError(grads[1], L.dbeta)).toBeLessThan(TIGHT);
    });

    it(`rank ${rank}: conv → BN → tanh → dropout(0) → dense → BN1d → tanh → dense: outputs, gradients, Hv, running statistics`, () => {
      const net = new Network(B, T.inShape, [
        conv({ channels: 3, kernel: 2 }), batchNorm(), activation('tanh'), dropout(0), flatten(),
        dense({ units: T.hidden }), batchNorm(), activation('tanh'), dense({ units: T.classes }),
      ]);
      net.setParams(T.params);
      const batches: Batch[] = T.batches.map((b: { x: number[]; y: number[] }) => ({ x: f64(b.x), y: Int32Array.from(b.y), n: b.y.length }));
      expect(relError(net.trainOutputs(batches[0]), T.outputs)).toBeLessThan(TIGHT);
      const g = new Float64Array(net.paramCount);
      expect(Math.abs(net.gradient(batches[0], g) - T.loss) / T.loss).toBeLessThan(TIGHT);
      expect(relError(g, T.grad)).toBeLessThan(TIGHT);
      const hv = new Float64Array(net.paramCount);
      net.curvature(batches[0]).hv(f64(T.v), hv);
      expect(relError(hv, T.hv)).toBeLessThan(TIGHT);
      const x0 = batches[0].x.slice();
      expect(relError(numericGradient(() => net.loss({ ...batches[0], x: x0 }), x0), T.inputGrad)).toBeLessThan(1e-6);
      net.gradient(batches[1], g);
      net.gradient(batches[2], g);
      const { buffers } = net.state();
      for (const layer of ['1', '6']) {
        expect(relError(buffers[`${layer}.running_mean`], T.running[layer].mean)).toBeLessThan(TIGHT);
        expect(relError(buffers[`${layer}.running_var`], T.running[layer].var)).toBeLessThan(TIGHT);
        expect(buffers[`${layer}.num_batches_tracked`]).toEqual([T.running[layer].tracked]);
      }
      expect(relError(net.predict(batches[0].x, batches[0].n), T.evalOutputs)).toBeLessThan(TIGHT);
      // The state dict, buffers included, has PyTorch's names, order and values.
      const dict = net.stateDict();
      expect(Object.keys(dict)).toEqual(Object.keys(T.stateDict));
      for (const [name, want] of Object.entries(T.stateDict as Record<string, number[]>)) {
        expect(relError(dict[name].data, want), name).toBeLessThan(TIGHT);
      }
    });
  }
});
