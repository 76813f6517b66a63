/**
 * The small networks the GPU backends are checked on against the CPU (test/gpu/network.test.ts for
 * gpu.js, test/webgpu/network.test.ts for WebGPU): every rank, the old layers and the new.
 */
import { activation, avgPool, conv, dense, flatten, globalAvgPool, maxPool, residual, type LayerSpec } from '../../src/layers/index.js';
import { Network } from '../../src/network/index.js';
import type { Backend } from '../../src/nd/backend.js';
import type { Batch } from '../../src/nd/model.js';
import { Rng } from '../../src/nd/rng.js';
import { randn, randomBatch } from '../helpers.js';

export const NETS: Record<number, { inShape: number[]; specs: LayerSpec[] }> = {
  1: {
    inShape: [2, 16],
    specs: [conv({ channels: 3, kernel: 3, activation: 'tanh', padding: 1 }), maxPool({ window: 2 }), conv({ channels: 2, kernel: 2, stride: 2, activation: 'sigmoid' }), flatten(), dense({ units: 4 })],
  },
  2: {
    inShape: [1, 9, 8],
    specs: [conv({ channels: 3, kernel: 3, activation: 'relu', dilation: [1, 2] }), maxPool({ window: 2 }), flatten(), dense({ units: 5, activation: 'tanh' }), dense({ units: 3 })],
  },
  3: {
    inShape: [2, 6, 5, 6],
    specs: [conv({ channels: 2, kernel: 2, activation: 'sigmoid', stride: [1, 2, 1], padding: 1 }), maxPool({ window: [2, 1, 2] }), flatten(), dense({ units: 3 })],
  },
};

/** Every rank with the newer layers: GELU, leaky ReLU, softplus, residual blocks (identity and projection), average pools. */
export const NEW_NETS: Record<number, { inShape: number[]; specs: LayerSpec[] }> = Object.fromEntries(
  ([[1, [2, 12]], [2, [1, 8, 7]], [3, [2, 5, 4, 5]]] as const).map(([rank, inShape]) => [rank, {
    inShape: [...inShape],
    specs: [
      conv({ channels: 3, kernel: 3, padding: 1, activation: 'gelu-tanh' }),
      residual([conv({ channels: 3, kernel: 3, padding: 1, activation: { kind: 'leaky-relu', slope: 0.2 } }), conv({ channels: 3, kernel: 3, padding: 1 })]),
      activation('softplus'),
      residual([conv({ channels: 4, kernel: 3, stride: 2, padding: 1, activation: 'leaky-relu' }), avgPool({ window: 3, stride: 1, padding: 1, countIncludePad: false })], { projection: true }),
      avgPool({ window: 2, stride: 1, padding: 1 }),
      globalAvgPool(),
      dense({ units: 3 }),
    ],
  }]),
);

export function build(backend: Backend, rank: number, loss: 'mse' | 'softmax-cross-entropy', nets = NETS): { net: Network; batch: Batch } {
  const { inShape, specs } = nets[rank];
  const net = new Network(backend, inShape, specs, { loss, seed: 3 });
  const rng = new Rng(11 + rank);
  const k = net.outShape[0];
  const b = randomBatch(rng, inShape, 4, k);
  // The same float32 inputs and targets on both backends.
  const batch: Batch = { x: Float32Array.from(b.x), y: loss === 'mse' ? Float32Array.from(randn(rng, 4 * k)) : b.y, n: 4 };
  return { net, batch };
}
