/**
 * Residual blocks y = f(x) + P(x): the forward sum against the body and projection run as
 * separate networks' layers, the parameter layout (body's, then projection's, contiguous),
 * finite differences of gradients and Hv (float64, ranks 1–3), Gv = Jᵀ H_L J, shape errors.
 */
import { describe, expect, it } from 'vitest';
import { activation, avgPool, batchNorm, buildLayer, conv, dense, dropout, flatten, globalAvgPool, residual, type LayerSpec } from '../../src/layers/index.js';
import { Network } from '../../src/network/index.js';
import { cpuBackend } from '../../src/nd/backends/cpu/index.js';
import { Rng } from '../../src/nd/rng.js';
import { createOptimizer } from '../../src/optim/index.js';
import { sizeOf } from '../../src/nd/shape.js';
import { randn, randomBatch, relError } from '../helpers.js';
import { B64, checkGaussNewton, checkLayer, checkNetwork, setup } from './checks.js';

const SPATIAL: Record<number, number[]> = { 1: [8], 2: [6, 5], 3: [4, 5, 4] };

describe('residual forward: y = f(x) + P(x)', () => {
  it('identity skip: the body\'s output plus the input', () => {
    const body: LayerSpec[] = [conv({ channels: 2, kernel: 3, padding: 1, activation: 'relu' }), conv({ channels: 2, kernel: 3, padding: 1 })];
    const inShape = [2, 6, 5];
    const block = new Network(B64, inShape, [residual(body), flatten()], { seed: 3 });
    const plain = new Network(B64, inShape, [...body, flatten()], { seed: 3 });
    plain.setParams(block.params);
    const x = randn(new Rng(1), 2 * sizeOf(inShape));
    const expected = plain.predict(x, 2).map((v, i) => v + x[i]);
    expect(relError(block.predict(x, 2), expected)).toBeLessThan(1e-15);
  });

  it('projection: the body\'s parameters, then the 1×1 stride-2 convolution\'s, contiguous in the flat vector', () => {
    const body: LayerSpec[] = [conv({ channels: 4, kernel: 3, stride: 2, padding: 1, activation: 'tanh' })];
    const inShape = [2, 7, 6];
    const block = new Network(B64, inShape, [residual(body, { projection: true }), flatten()], { seed: 2 });
    expect(block.layers[0].paramShapes).toEqual([[4, 2, 3, 3], [4], [4, 2, 1, 1]]);
    expect(block.layers[0].outShape).toEqual([4, 4, 3]);
    const f = new Network(B64, inShape, [...body, flatten()]);
    const p = new Network(B64, inShape, [conv({ channels: 4, kernel: 1, stride: 2, bias: false }), flatten()]);
    f.setParams(block.params.subarray(0, f.paramCount));
    p.setParams(block.params.subarray(f.paramCount));
    const x = randn(new Rng(5), 3 * sizeOf(inShape));
    const fx = f.predict(x, 3);
    const px = p.predict(x, 3);
    expect(relError(block.predict(x, 3), fx.map((v, i) => v + px[i]))).toBeLessThan(1e-15);
  });

  it('a shape change without a projection, or one no 1×1 stride can follow, is an error naming the block', () => {
    expect(() => buildLayer(B64, 3, [2, 6, 6], residual([conv({ channels: 3, kernel: 3, padding: 1 })]))).toThrow(
      /residual#3: the body maps \[2, 6, 6\] to \[3, 6, 6\]; .*projection: true/,
    );
    expect(() => buildLayer(B64, 1, [2, 6, 6], residual([conv({ channels: 2, kernel: 3 })], { projection: true }))).toThrow(
      /residual#1: no 1×1 convolution stride maps the grid of \[2, 6, 6\] onto that of \[2, 4, 4\]/,
    );
    expect(() => buildLayer(B64, 0, [2, 6], residual([]))).toThrow(/residual#0: the body needs at least one layer/);
    expect(() => buildLayer(B64, 0, [2, 6], residual([activation('tanh')], { projection: 'yes' as never }))).toThrow(/residual#0: projection must be true or false, got "yes"/);
    expect(() => buildLayer(B64, 0, [2, 6], residual([activation('tanh')], { proj: true } as never))).toThrow(/residual#0: unknown option 'proj'/);
    expect(() => buildLayer(B64, 0, [2, 6], residual([conv({ channels: 2, kernel: 9 })]))).toThrow(/residual#0\.body\.0: kernel/);
  });
});

describe('finite differences and curvature, ranks 1–3', () => {
  for (const rank of [1, 2, 3]) {
    const s = SPATIAL[rank];
    it(`rank ${rank}: a block alone, with and without projection, w.r.t. inputs and parameters`, () => {
      checkLayer(residual([conv({ channels: 2, kernel: 3, padding: 1, activation: 'gelu-tanh' }), conv({ channels: 2, kernel: 1 })]), [2, ...s]);
      checkLayer(residual([conv({ channels: 3, kernel: 3, stride: 2, padding: 1, activation: 'tanh' })], { projection: true }), [2, ...s]);
    });
    it(`rank ${rank}: a residual network's gradient and Hv`, () => {
      checkNetwork([1, ...s], [
        conv({ channels: 2, kernel: 3, padding: 1, activation: 'tanh' }),
        residual([conv({ channels: 2, kernel: 3, padding: 1, activation: { kind: 'leaky-relu', slope: 0.2 } }), conv({ channels: 2, kernel: 3, padding: 1 })]),
        activation('softplus'),
        residual([conv({ channels: 3, kernel: 3, stride: 2, padding: 1, activation: 'gelu-tanh' }), avgPool({ window: 3, stride: 1, padding: 1 })], { projection: true }),
        globalAvgPool(),
        dense({ units: 3 }),
      ], 'softmax-cross-entropy', rank);
    });
  }
  it('Hv through parameter-free bodies, first (R{x} = 0: the block\'s R-forward is null) and later', () => {
    checkNetwork([6], [residual([activation('gelu-tanh')]), dense({ units: 4, activation: 'tanh' }), residual([activation('softplus')]), dense({ units: 3 })], 'mse');
  });
  it('Gv = Jᵀ H_L J through a residual block with projection', () => {
    checkGaussNewton([1, 5, 4], [residual([conv({ channels: 2, kernel: 3, padding: 1, activation: 'tanh' })], { projection: true }), flatten(), dense({ units: 3 })]);
  });
});

describe('float32 CPU backend', () => {
  it('a network of every new layer gives the float64 loss, gradient and Hv to float32 precision', () => {
    const specs: LayerSpec[] = [
      conv({ channels: 3, kernel: 3, padding: 1, activation: 'gelu-tanh' }),
      residual([conv({ channels: 3, kernel: 3, padding: 1, activation: 'leaky-relu' }), conv({ channels: 3, kernel: 3, padding: 1 })]),
      activation('softplus'),
      residual([conv({ channels: 4, kernel: 3, stride: 2, padding: 1 }), avgPool({ window: 3, stride: 1, padding: 1, countIncludePad: false })], { projection: true }),
      globalAvgPool(),
      dense({ units: 3 }),
    ];
    const n64 = new Network(B64, [2, 8, 7], specs, { seed: 4 });
    const n32 = new Network(cpuBackend('float32'), [2, 8, 7], specs, { seed: 4 });
    n32.setParams(n64.params);
    const b = randomBatch(new Rng(3), [2, 8, 7], 4, 3);
    const b32 = { ...b, x: Float32Array.from(b.x) };
    const b64 = { ...b, x: Float64Array.from(b32.x) };
    const [g64, g32] = [new Float64Array(n64.paramCount), new Float32Array(n32.paramCount)];
    const l64 = n64.gradient(b64, g64);
    const l32 = n32.gradient(b32, g32);
    // Sums of at most a few hundred float32 products, ε32 ≈ 6e-8 each (measured 1e-7 for the
    // gradient and 1.3e-7 for Hv): 1e-5 is generous and far below any bug, which shows at O(1e-2).
    expect(Math.abs(l32 - l64) / l64).toBeLessThan(1e-5);
    expect(relError(g32, g64)).toBeLessThan(1e-5);
    const v = randn(new Rng(9), n64.paramCount);
    const [h64, h32] = [new Float64Array(v.length), new Float32Array(v.length)];
    n64.curvature(b64).hv(v, h64);
    n32.curvature(b32).hv(Float32Array.from(v), h32);
    expect(relError(h32, h64)).toBeLessThan(1e-5);
  });
});

describe('optimizers on a network of the new layers', () => {
  it.each(['hf', 'adam', 'adamw'] as const)('%s lowers the loss of a residual, average-pooled network on a fixed batch', (name) => {
    const net = new Network(B64, [1, 8, 8], [
      conv({ channels: 3, kernel: 3, padding: 1, activation: 'gelu-tanh' }),
      residual([conv({ channels: 3, kernel: 3, padding: 1, activation: 'leaky-relu' }), conv({ channels: 3, kernel: 3, padding: 1 })]),
      avgPool({ window: 2 }),
      globalAvgPool(),
      dense({ units: 3 }),
    ], { seed: 2 });
    // Learnable: each image is noise plus a level −1, 0 or +1, its class; the global pool sees the level.
    const b = randomBatch(new Rng(8), [1, 8, 8], 24, 3);
    b.x.forEach((v, i) => (b.x[i] = 0.5 * v + (b.y[Math.floor(i / 64)] - 1)));
    const batch = b;
    const opt = name === 'hf' ? createOptimizer('hf', { curvatureBatch: 12, maxCgIterations: 10 }) : createOptimizer(name, { lr: 0.02 });
    const before = net.loss(batch);
    for (let s = 0; s < 10; s++) opt.step(net, batch);
    // Ten steps on one learnable batch: a working optimizer at least halves the loss (measured:
    // 1.08 → 0.004 for HF, → 0.28 for Adam and AdamW).
    expect(net.loss(batch)).toBeLessThan(0.5 * before);
  });
});

describe('batch norm and dropout inside a block (the pass mode reaches the children)', () => {
  const specs = (): LayerSpec[] => [
    conv({ channels: 3, kernel: 3, padding: 1, activation: 'tanh' }),
    residual([conv({ channels: 3, kernel: 3, padding: 1 }), batchNorm(), activation('gelu-tanh'), dropout(0.3), conv({ channels: 3, kernel: 3, padding: 1 })]),
    globalAvgPool(),
    dense({ units: 3 }),
  ];
  it('gradient and Hv in training mode (batch statistics, fixed masks) against finite differences', () => {
    checkNetwork([1, 6, 5], specs());
  });
  it('the gradient pass updates the running statistics, and evaluation uses them', () => {
    const { net, batch } = setup([1, 6, 5], specs());
    const state = () => net.namedBuffers().map((b) => [b.name, Array.from(b.data)]);
    expect(net.namedBuffers().map((b) => b.name)).toEqual(['2.body.1.running_mean', '2.body.1.running_var', '2.body.1.num_batches_tracked']);
    const before = state();
    net.gradient(batch, new Float64Array(net.paramCount));
    expect(state()).not.toEqual(before);
    // Evaluation: running statistics and no dropout, so it differs from the training-mode outputs.
    expect(relError(net.predict(batch.x, batch.n), net.trainOutputs(batch))).toBeGreaterThan(1e-3);
  });
});
