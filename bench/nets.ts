/** The networks of W4/W5 and the curvature bench, built with ndcnn's layers on the CPU backend. */
import { conv, dense, flatten, maxPool } from '../src/layers/index.js';
import { Network } from '../src/network/index.js';
import { cpuBackend } from '../src/nd/backends/cpu/index.js';
import type { Batch } from '../src/nd/model.js';
import { Rng } from '../src/nd/rng.js';
import { LENET, SMALL1D, SMALL3D } from './workloads.js';

/** W4's LeNet; `threads` > 1 splits each pass's batch over that many threads (src/parallel). */
export function lenet(threads = 1): Network {
  return new Network(cpuBackend('float32'), [...LENET.inShape], [
    conv({ ...LENET.conv1, activation: 'relu' }),
    maxPool({ window: LENET.pool }),
    conv({ ...LENET.conv2, activation: 'relu' }),
    maxPool({ window: LENET.pool }),
    flatten(),
    dense({ units: LENET.classes }),
  ], { loss: 'softmax-cross-entropy', seed: 1, threads });
}

/** 1×2048 → conv 16 (16, stride 4, relu) → pool 4 → conv 8 (32, relu) → pool 4 → 32·30 = 960 → dense 10. */
export function small1d(): Network {
  return new Network(cpuBackend('float32'), [...SMALL1D.inShape], [
    conv({ channels: 16, kernel: 16, stride: 4, activation: 'relu' }),
    maxPool({ window: 4 }),
    conv({ channels: 32, kernel: 8, activation: 'relu' }),
    maxPool({ window: 4 }),
    flatten(),
    dense({ units: SMALL1D.classes }),
  ], { loss: 'softmax-cross-entropy', seed: 1 });
}

/** 1×12³ → conv 3³ (4, relu) → pool 2 → conv 3³ (8, relu) → 8·3³ = 216 → dense 4. */
export function small3d(): Network {
  return new Network(cpuBackend('float32'), [...SMALL3D.inShape], [
    conv({ channels: 4, kernel: 3, activation: 'relu' }),
    maxPool({ window: 2 }),
    conv({ channels: 8, kernel: 3, activation: 'relu' }),
    flatten(),
    dense({ units: SMALL3D.classes }),
  ], { loss: 'softmax-cross-entropy', seed: 1 });
}

/** Standard-normal inputs and uniform labels from a seeded generator. */
export function randomBatch(net: Network, n: number, classes: number, seed: number): Batch {
  const rng = new Rng(seed);
  const size = net.inShape.reduce((p, v) => p * v, 1);
  const x = new Float32Array(n * size);
  for (let i = 0; i < x.length; i++) x[i] = rng.normal();
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) y[i] = rng.int(classes);
  return { x, y, n };
}

/** One SGD step: θ ← θ − η·∇E(θ). Returns the loss before the step. */
export function sgdStep(net: Network, batch: Batch, grad: Float32Array, lr: number): number {
  const loss = net.gradient(batch, grad);
  const p = net.params;
  for (let i = 0; i < p.length; i++) p[i] -= lr * grad[i];
  return loss;
}
