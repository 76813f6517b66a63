/**
 * Per-sample gradients and diagonal curvature against PyTorch (fixtures/torch_samples.py, torch
 * 1.13, float64), which computes each from its definition: per-sample gradients by one autograd
 * call per sample, the GGN from explicit Jacobians, the Hessian by double backpropagation; also
 * the gradient, Hv and Gv, in evaluation mode (batch norm on running statistics) and with a given
 * dropout mask. Both sides are exact up to float64 rounding of sums of at most a few hundred
 * terms (~1e-15 relative); the bar is 1e-10 absolute on values of order 0.01..1.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { activation, avgPool, batchNorm, conv, dense, dropout, flatten, maxPool, type LayerSpec } from '../../src/layers/index.js';
import { Network } from '../../src/network/index.js';
import { cpuBackend } from '../../src/nd/backends/cpu/index.js';

interface Case {
  inShape: number[]; loss: 'mse' | 'softmax-cross-entropy'; eval: boolean; n: number; x: number[]; y: number[]; params: number[];
  buffers: Record<string, number[]>; mask: number[] | null; value: number; gradient: number[]; perSample: number[];
  ggnDiagonal: number[]; hessianDiagonal: number[]; v: number[]; hv: number[]; gv: number[];
}
const fx = JSON.parse(readFileSync(join(__dirname, 'fixtures', 'torch-samples.json'), 'utf8')) as { cases: Record<string, Case> };

/** The generator's nets as ndcnn layer specs (the same modules in the same order). */
const SPECS: Record<string, LayerSpec[]> = {
  rank1: [conv({ channels: 3, kernel: 3, stride: 2, padding: 1, activation: 'tanh' }), maxPool({ window: 2 }), flatten(), dense({ units: 3 })],
  rank2: [conv({ channels: 2, kernel: 3, padding: 1, activation: 'relu' }), maxPool({ window: 2 }), flatten(), dense({ units: 4, activation: 'sigmoid' }), dense({ units: 3 })],
  rank3: [conv({ channels: 2, kernel: 2, activation: 'sigmoid' }), flatten(), dense({ units: 3 })],
  relu2d: [conv({ channels: 3, kernel: 2, bias: false, activation: 'relu' }), avgPool({ window: 2 }), flatten(), dense({ units: 6, activation: 'relu' }), dense({ units: 3 })],
  evalBatchNorm: [conv({ channels: 3, kernel: 3 }), batchNorm(), activation('tanh'), flatten(), dropout(0.3), dense({ units: 4 }), batchNorm(), dense({ units: 3 })],
  mask: [dense({ units: 5, activation: 'tanh' }), dropout(0.4), dense({ units: 3 })],
};

const TOL = 1e-10;
const maxError = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(b, (v, i) => Math.abs(v - a[i])).reduce((m, e) => Math.max(m, e), 0);

function build(name: string, threads = 1) {
  const c = fx.cases[name];
  const net = new Network(cpuBackend('float64'), c.inShape, SPECS[name], { loss: c.loss, threads });
  net.setParams(c.params);
  for (const b of net.namedBuffers()) b.data.set(c.buffers[b.name]);
  if (c.mask) net.setDropoutMasks({ 'dropout#1': c.mask });
  const batch = { x: Float64Array.from(c.x), y: c.loss === 'mse' ? Float64Array.from(c.y) : Int32Array.from(c.y), n: c.n };
  return { c, net, batch, mode: c.eval ? ('eval' as const) : ('train' as const) };
}

describe.each(Object.keys(SPECS))('%s against PyTorch (float64)', (name) => {
  const { c, net, batch, mode } = build(name);
  const P = c.params.length;

  it('the same network: loss and gradient', () => {
    const g = new Float64Array(P);
    expect(Math.abs(net.gradient(batch, g, { mode }) - c.value)).toBeLessThan(TOL);
    expect(maxError(g, c.gradient)).toBeLessThan(TOL);
  });

  it('per-sample gradients (materialised, every layer) and their sum', () => {
    const q = net.perSample(batch, { mode, gradients: true });
    const rows = new Float64Array(c.n * P);
    for (const t of q.gradients!) for (let r = 0; r < c.n; r++) rows.set(t.data.subarray(r * t.size, (r + 1) * t.size), r * P + t.offset);
    expect(maxError(rows, c.perSample)).toBeLessThan(TOL);
    expect(maxError(q.gradient, c.gradient)).toBeLessThan(TOL);
    expect(Math.abs(q.loss - c.value)).toBeLessThan(TOL);
  });

  it('squared norms and the second moment without materialising (the reduced paths)', () => {
    const q = net.perSample(batch, { mode });
    const g = (r: number, i: number) => c.perSample[r * P + i];
    const total = Array.from({ length: c.n }, (_, r) => c.params.reduce((s, _p, i) => s + g(r, i) ** 2, 0));
    expect(maxError(q.norms!.total, total)).toBeLessThan(TOL);
    expect(maxError(q.secondMoment!, c.params.map((_, i) => Array.from({ length: c.n }, (_v, r) => g(r, i) ** 2).reduce((a, b) => a + b, 0)))).toBeLessThan(TOL);
  });

  it('the exact GGN diagonal (one backward pass per output)', () => {
    expect(maxError(net.curvatureDiagonal(batch, { mode }), c.ggnDiagonal)).toBeLessThan(TOL);
  });

  it('Hv and Gv', () => {
    const curv = net.curvature(batch, { mode });
    const [hv, gv] = [new Float64Array(P), new Float64Array(P)];
    curv.hv(c.v, hv);
    curv.gv(c.v, gv);
    expect(maxError(hv, c.hv)).toBeLessThan(TOL);
    expect(maxError(gv, c.gv)).toBeLessThan(TOL);
  });

  it(name === 'relu2d' ? 'the exact Hessian diagonal (piecewise-linear layers: it equals the GGN\'s)' : 'the exact Hessian diagonal (the GGN\'s plus the smooth activations\' residual columns)', () => {
    expect(maxError(net.curvatureDiagonal(batch, { mode, of: 'hessian' }), c.hessianDiagonal)).toBeLessThan(TOL);
  });
});

describe('the same against PyTorch on 2 threads (each share its samples\' rows, sums over shares)', () => {
  it.each([['rank2', 3], ['evalBatchNorm', 'batchNorm#1'], ['mask', 0]] as const)('%s, per-sample gradients of layer %s', (name, layer) => {
    const { c, net, batch, mode } = build(name, 2);
    const q = net.perSample(batch, { mode, gradients: [layer] });
    expect(maxError(q.gradient, c.gradient)).toBeLessThan(TOL);
    const t = q.gradients![0];
    const P = c.params.length;
    for (let r = 0; r < c.n; r++) expect(maxError(t.data.subarray(r * t.size, (r + 1) * t.size), c.perSample.slice(r * P + t.offset, r * P + t.offset + t.size))).toBeLessThan(TOL);
    expect(maxError(net.curvatureDiagonal(batch, { mode }), c.ggnDiagonal)).toBeLessThan(TOL);
    const hv = new Float64Array(P);
    net.curvature(batch, { mode }).hv(c.v, hv);
    expect(maxError(hv, c.hv)).toBeLessThan(TOL);
    net.dispose();
  });
});
