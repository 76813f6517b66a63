/**
 * The finite-difference and curvature checks every new layer must pass, float64 CPU backend:
 * a layer alone (dE/dx and dE/dθ for E = ⟨r, layer(x)⟩), and a small network around it (its
 * gradient, Hv against differences of gradients, Gv against Jᵀ H_L J with J assembled by
 * differences). Bounds: central differences at h = 1e-5 agree with exact derivatives to ~1e-8
 * relative (helpers.ts), so 1e-6 catches any wrong term, which shows at O(1).
 */
import { expect } from 'vitest';
import { buildLayer, type LayerSpec } from '../../src/layers/index.js';
import { Network } from '../../src/network/index.js';
import { cpuBackend } from '../../src/nd/backends/cpu/index.js';
import type { Batch } from '../../src/nd/model.js';
import { Rng } from '../../src/nd/rng.js';
import { sizeOf } from '../../src/nd/shape.js';
import { dot } from '../../src/nd/vec.js';
import { numericGradient, numericHv, randn, randomBatch, relError } from '../helpers.js';

export const B64 = cpuBackend('float64');
export const FD = 1e-6;

/** E = ⟨r, layer(x)⟩ for a fixed random r, so dE/dy = r and backward(r) must equal ∇E. */
export function checkLayer(spec: LayerSpec, inShape: number[], seed = 1): void {
  const layer = buildLayer(B64, 0, inShape, spec);
  const rng = new Rng(seed);
  const params = layer.paramShapes.map((s) => randn(rng, sizeOf(s), 0.5));
  const xShape = [2, ...inShape];
  const x = randn(rng, sizeOf(xShape));
  const r = randn(rng, 2 * sizeOf(layer.outShape));
  const wrapped = () => params.map((p, i) => B64.wrap(layer.paramShapes[i], p));
  const E = () => dot(B64.download(layer.forward(B64.wrap(xShape, x), wrapped())), r);
  E();
  const grads = params.map((p) => new Float64Array(p.length));
  const dx = B64.download(layer.backward(B64.upload([2, ...layer.outShape], r), grads.map((g, i) => B64.wrap(layer.paramShapes[i], g))));
  expect(relError(dx, numericGradient(E, x))).toBeLessThan(FD);
  params.forEach((p, i) => expect(relError(grads[i], numericGradient(E, p))).toBeLessThan(FD));
}

export function setup(inShape: number[], specs: LayerSpec[], loss: 'mse' | 'softmax-cross-entropy' = 'softmax-cross-entropy', seed = 1) {
  const net = new Network(B64, inShape, specs, { loss, seed });
  const rng = new Rng(seed + 100);
  const k = net.outShape[0];
  const b = randomBatch(rng, inShape, 3, k);
  const batch: Batch = loss === 'mse' ? { ...b, y: randn(rng, 3 * k) } : b;
  return { net, batch, rng };
}

/** The network's gradient and Hv against finite differences. */
export function checkNetwork(inShape: number[], specs: LayerSpec[], loss: 'mse' | 'softmax-cross-entropy' = 'softmax-cross-entropy', seed = 1): void {
  const { net, batch, rng } = setup(inShape, specs, loss, seed);
  const g = new Float64Array(net.paramCount);
  net.gradient(batch, g);
  expect(relError(g, numericGradient(() => net.loss(batch), net.params))).toBeLessThan(FD);
  const v = randn(rng, net.paramCount);
  const hv = new Float64Array(net.paramCount);
  net.curvature(batch).hv(v, hv);
  expect(relError(hv, numericHv(net, batch, v))).toBeLessThan(FD);
}

/** Gv against Jᵀ H_L J v with J[r, j] = ∂z_r/∂θ_j by central differences (h = 1e-6: error ~1e-12 of the entries). */
export function checkGaussNewton(inShape: number[], specs: LayerSpec[]): void {
  const { net, batch, rng } = setup(inShape, specs);
  const P = net.paramCount;
  const K = batch.n * net.outShape[0];
  const z0 = net.predict(batch.x, batch.n);
  const J = Array.from({ length: K }, () => new Float64Array(P));
  const h = 1e-6;
  for (let j = 0; j < P; j++) {
    const t = net.params[j];
    net.params[j] = t + h;
    const zp = net.predict(batch.x, batch.n);
    net.params[j] = t - h;
    const zm = net.predict(batch.x, batch.n);
    net.params[j] = t;
    for (let r = 0; r < K; r++) J[r][j] = (zp[r] - zm[r]) / (2 * h);
  }
  const v = randn(rng, P);
  const HJv = new Float64Array(K);
  net.lossFn.hessianVec(z0, batch.y, batch.n, net.outShape[0], J.map((row) => dot(row, v)), HJv);
  const explicit = new Float64Array(P);
  for (let r = 0; r < K; r++) for (let j = 0; j < P; j++) explicit[j] += J[r][j] * HJv[r];
  const gv = new Float64Array(P);
  net.curvature(batch).gv(v, gv);
  // J by differences carries ~1e-10 relative error, amplified by the sums over outputs: 1e-7 (as curvature.test.ts).
  expect(relError(gv, explicit)).toBeLessThan(1e-7);
}
