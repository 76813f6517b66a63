/**
 * The new layers against PyTorch 1.13 in float64 (and their state-dict names, `3.body.0.weight`) (fixtures/torch-new-layers.py, its output
 * committed beside it): one network per rank using GELU (tanh), leaky ReLU, softplus, residual
 * blocks with and without projection, both average-pooling divisors and global average pooling.
 * Outputs, loss, gradients w.r.t. inputs and parameters, and Hv by double backprop.
 *
 * Tolerance 1e-10 relative: both sides evaluate the same float64 formulas, differing only in the
 * order of summation (im2col + GEMM here, direct loops there) and in libm's exp/tanh, each a few
 * ε64 ≈ 1e-16 per operation; through ~10 layers and sums of ≤ 100 terms that stays below 1e-13
 * (measured: ≤ 2e-15), so 1e-10 leaves a margin of 1000 and still catches any wrong term.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { activation, avgPool, conv, dense, globalAvgPool, residual, type LayerSpec } from '../../src/layers/index.js';
import { Network } from '../../src/network/index.js';
import { sizeOf } from '../../src/nd/shape.js';
import { relError } from '../helpers.js';
import { B64 } from './checks.js';

interface Case {
  rank: number;
  inShape: number[];
  names: string[];
  params: number[];
  x: number[];
  y: number[];
  outputs: number[];
  loss: number;
  gradInput: number[];
  gradParams: number[];
  v: number[];
  hv: number[];
}

const fixture = JSON.parse(readFileSync(new URL('./fixtures/torch-new-layers.json', import.meta.url), 'utf8')) as { cases: Case[] };
const TOL = 1e-10;

const specs: LayerSpec[] = [
  conv({ channels: 3, kernel: 3, padding: 1, activation: 'gelu-tanh' }),
  residual([conv({ channels: 3, kernel: 3, padding: 1, activation: { kind: 'leaky-relu', slope: 0.2 } }), conv({ channels: 3, kernel: 3, padding: 1 })]),
  activation('softplus'),
  residual([
    conv({ channels: 4, kernel: 3, stride: 2, padding: 1, activation: 'leaky-relu' }),
    avgPool({ window: 3, stride: 1, padding: 1, countIncludePad: false }),
  ], { projection: true }),
  avgPool({ window: 2, stride: 1, padding: 1 }),
  globalAvgPool(),
  dense({ units: 4 }),
];

/** dE/dx: the network's layers run by hand, since Network.gradient skips the input gradient. */
function inputGradient(net: Network, c: Case): Float64Array {
  let at = 0;
  const p = net.layers.map((l) => l.paramShapes.map((s) => B64.wrap(s, net.params.subarray(at, (at += sizeOf(s))))));
  let h = B64.upload([3, ...c.inShape], c.x);
  net.layers.forEach((l, i) => (h = l.forward(h, p[i])));
  const k = net.outShape[0];
  const dz = new Float64Array(3 * k);
  net.lossFn.value(B64.download(h), Int32Array.from(c.y), 3, k, dz);
  let d = B64.upload([3, k], dz);
  for (let i = net.layers.length - 1; i >= 0; i--) d = net.layers[i].backward(d, null);
  return B64.download(d) as Float64Array;
}

describe('new layers against PyTorch (float64)', () => {
  it.each(fixture.cases)('rank $rank: outputs, loss, gradients w.r.t. inputs and parameters, Hv', (c) => {
    const net = new Network(B64, c.inShape, specs);
    expect(net.paramCount).toBe(c.params.length);
    expect(net.namedParameters().map((p) => p.name)).toEqual(c.names);
    net.setParams(c.params);
    const batch = { x: Float64Array.from(c.x), y: Int32Array.from(c.y), n: 3 };
    expect(relError(net.predict(batch.x, 3), c.outputs)).toBeLessThan(TOL);
    const g = new Float64Array(net.paramCount);
    expect(Math.abs(net.gradient(batch, g) - c.loss) / c.loss).toBeLessThan(TOL);
    expect(relError(g, c.gradParams)).toBeLessThan(TOL);
    expect(relError(inputGradient(net, c), c.gradInput)).toBeLessThan(TOL);
    const hv = new Float64Array(net.paramCount);
    net.curvature(batch).hv(Float64Array.from(c.v), hv);
    expect(relError(hv, c.hv)).toBeLessThan(TOL);
  });
});
