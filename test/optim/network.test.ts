/**
 * The optimizers on the real Network (conv, max-pool, dense, softmax cross-entropy or MSE):
 * small enough to run in a second or two, large enough that the curvature is not trivial.
 */
import { describe, expect, it } from 'vitest';
import { conv, dense, flatten, maxPool } from '../../src/layers/index.js';
import { Network } from '../../src/network/index.js';
import { cpuBackend } from '../../src/nd/backends/cpu/index.js';
import type { DType } from '../../src/nd/dtype.js';
import type { Batch } from '../../src/nd/model.js';
import { Rng } from '../../src/nd/rng.js';
import { createOptimizer, MiniBatches, type OptimizerName } from '../../src/optim/index.js';

/** n images 8×8 of three classes: a horizontal bar, a vertical bar, a diagonal; noise σ = 0.3. */
function bars(n: number, dtype: DType, seed: number): { x: Float64Array | Float32Array; y: Int32Array } {
  const rng = new Rng(seed);
  const x = dtype === 'float64' ? new Float64Array(n * 64) : new Float32Array(n * 64);
  const y = new Int32Array(n);
  for (let s = 0; s < n; s++) {
    const cls = s % 3;
    const at = 1 + rng.int(6);
    y[s] = cls;
    for (let i = 0; i < 8; i++) {
      for (let j = 0; j < 8; j++) {
        const on = cls === 0 ? i === at : cls === 1 ? j === at : i === j;
        x[s * 64 + i * 8 + j] = (on ? 1 : 0) + 0.3 * rng.normal();
      }
    }
  }
  return { x, y };
}

function cnn(dtype: DType): Network {
  return new Network(
    cpuBackend(dtype),
    [1, 8, 8],
    [conv({ channels: 4, kernel: 3, activation: 'relu' }), maxPool({ window: 2 }), flatten(), dense({ units: 3 })],
    { loss: 'softmax-cross-entropy', seed: 3 },
  );
}

describe('optimizers on a small CNN', () => {
  it.each<[DType]>([['float64'], ['float32']])('Hessian-free lowers the loss of a 2-D CNN (%s)', (dtype) => {
    const { x, y } = bars(60, dtype, 1);
    const batch: Batch = { x, y, n: 60 };
    const net = cnn(dtype);
    const hf = createOptimizer('hf', { curvatureBatch: 20, maxCgIterations: 30 });
    const first = net.loss(batch);
    let last = first;
    for (let s = 0; s < 5; s++) {
      const r = hf.step(net, batch);
      // Armijo guarantees no increase on the gradient batch (float32: the loss is summed in doubles).
      expect(r.lossAfter).toBeLessThanOrEqual(r.loss);
      last = r.lossAfter;
    }
    expect(net.params.every(Number.isFinite)).toBe(true);
    expect(net.loss(batch)).toBeCloseTo(last, dtype === 'float64' ? 12 : 5);
    // The classes are separable by one conv filter: five steps take most of ln 3 away.
    expect(last).toBeLessThan(0.5 * first);
  });

  it.each<[OptimizerName, object]>([
    ['sgd', { lr: 0.1, momentum: 'nesterov' }],
    ['hf', { curvatureBatch: 10, maxCgIterations: 20 }],
  ])('%s trains over shuffled mini-batches and the held-out loss falls', (name, options) => {
    const train = bars(90, 'float64', 2);
    const test = bars(30, 'float64', 3);
    const testBatch: Batch = { ...test, n: 30 };
    const net = cnn('float64');
    const opt = createOptimizer(name, options);
    const batches = new MiniBatches({ ...train, sampleSize: 64 }, 30, new Rng(4));
    const before = net.loss(testBatch);
    for (let epoch = 0; epoch < 3; epoch++) for (const b of batches.epoch()) opt.step(net, b);
    expect(net.loss(testBatch)).toBeLessThan(0.7 * before);
  });
});
