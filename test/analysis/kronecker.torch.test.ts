/**
 * K-FAC / KFC factors against PyTorch: a committed fixture (fixtures/torch_kfac.py, torch 1.13,
 * float64) computes them by their definition (patches cut by padding and strided slicing,
 * output gradients by autograd to each layer's pre-activation) for nets of rank 1, 2 and 3 with
 * stride, padding, dilation, a bias-free conv, batch norm and both losses. ndcnn rebuilds each
 * net from the same numbers, on the CPU backend's patch Gram (SYRK with OpenBLAS, GEMM on the JS
 * kernel) and on the composed one (conv + convBackFilter, what a backend without patchGram
 * runs), in float64 and float32, and split over 2 threads.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { type LayerSpec } from '../../src/layers/index.js';
import { Network } from '../../src/network/index.js';
import type { Backend } from '../../src/nd/backend.js';
import { cpuBackend } from '../../src/nd/backends/cpu/index.js';
import { chooseGemm } from '../../src/nd/backends/cpu/gemm-select.js';
import type { FactorKind } from '../../src/nd/model.js';

interface Block { A?: number[]; G?: number[]; F?: number[] }
interface Net {
  name: string; inShape: number[]; n: number; loss: 'mse' | 'softmax-cross-entropy'; spec: LayerSpec[];
  x: number[]; y: number[]; params: number[]; ggn: Block[]; empirical: Block[];
}
const fx = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'torch-kfac.json'), 'utf8')) as { nets: Net[] };

/** The CPU backend with patchGram hidden: conv composes the Gram from conv and convBackFilter. */
function composed(b: Backend): Backend {
  return Object.assign(Object.create(b) as Backend, { patchGram: undefined });
}

function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  let m = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / m;
}

const BACKENDS: [string, Backend, number, number][] = [
  // float64: both sides sum the same products in other orders: ~1e-15, checked to 1e-12.
  ['float64', cpuBackend('float64'), 1e-12, 1],
  ['float64, composed patch Gram', composed(cpuBackend('float64')), 1e-12, 1],
  // The patch Gram by GEMM rather than OpenBLAS's SYRK (the wasm and JS kernels).
  ['float64, JS GEMM', cpuBackend('float64', chooseGemm('js')), 1e-12, 1],
  // The batch split over 2 threads (batch norm's sums reduced over them): other sum orders only.
  ['float64, 2 threads', cpuBackend('float64'), 1e-12, 2],
  // float32: inputs and products rounded to 2⁻²⁴ ≈ 6e-8, sums of a few hundred terms: 1e-5.
  ['float32', cpuBackend('float32'), 1e-5, 1],
];

describe.each(fx.nets)('$name net', (net) => {
  describe.each(BACKENDS)('%s', (_, backend, tol, threads) => {
    const model = new Network(backend, net.inShape, net.spec, { loss: net.loss, threads });
    afterAll(() => model.dispose());
    model.setParams(net.params);
    const batch = { x: net.x, y: net.y, n: net.n };
    it.each(['ggn', 'empirical'] as FactorKind[])('%s factors match PyTorch', (kind) => {
      const { factors } = model.kroneckerFactors(batch, { kind });
      const want = net[kind as 'ggn' | 'empirical'];
      const got: Block[] = [];
      // The fixture lists blocks in layer order; ndcnn keeps Kronecker and channel blocks apart.
      let [k, c] = [0, 0];
      for (const w of want) got.push(w.F ? { F: Array.from(factors.channels[c++].F) } : { A: Array.from(factors.kronecker[k].A), G: Array.from(factors.kronecker[k++].G) });
      expect(k).toBe(factors.kronecker.length);
      expect(c).toBe(factors.channels.length);
      want.forEach((w, i) => {
        for (const key of ['A', 'G', 'F'] as const) if (w[key]) expect(maxRel(got[i][key]!, w[key]!)).toBeLessThan(tol);
      });
    });
  });
});
