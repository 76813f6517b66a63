/**
 * Layer and network options as plain JavaScript may pass them (no TypeScript to catch a typo):
 * each mistake is refused with an error naming the layer and the option. And padding 'same' in
 * every rank: it keeps the spatial size, equals the explicit padding d·(k−1)/2, and its
 * gradient matches finite differences (float64; bound 1e-6 justified in helpers.ts).
 */
import { describe, expect, it } from 'vitest';
import { conv, cpuBackend, dense, flatten, maxPool, Network, Rng, type LayerSpec } from '../../src/index.js';
import { numericGradient, randomBatch, relError } from '../helpers.js';

const B = cpuBackend('float64');
const build = (inShape: unknown, specs: unknown, options?: unknown) => () => new Network(B, inShape as number[], specs as LayerSpec[], options as never);
const one = (spec: unknown, inShape = [1, 8, 8]) => build(inShape, [spec, flatten()]);

describe('layer options from plain JavaScript', () => {
  it('unknown and missing options, naming the layer and what it takes', () => {
    expect(one({ kind: 'conv', channels: 2, kernel: 3, kernal: 3 })).toThrow(
      "conv#0: unknown option 'kernal' (conv takes channels, kernel, stride, padding, dilation, activation, bias, init)",
    );
    expect(one({ kind: 'maxPool', window: 2, size: 2, pad: 1 })).toThrow("maxPool#0: unknown options 'size', 'pad' (maxPool takes window, stride)");
    expect(build([4], [{ kind: 'flatten', units: 3 }])).toThrow("flatten#0: unknown option 'units' (flatten takes no options)");
    expect(one({ kind: 'conv', channels: 2 })).toThrow("conv#0: missing option 'kernel'");
    expect(build([4], [{ kind: 'dense' }])).toThrow("dense#0: missing option 'units'");
  });

  it('unknown kinds and specs that are not objects', () => {
    expect(one({ kind: 'convolution', channels: 2 })).toThrow(/^layer #0: unknown layer kind "convolution" \(known: conv, maxPool, avgPool, globalAvgPool, dense, flatten, activation, residual, batchNorm, dropout\)$/);
    expect(one({ kind: 'dropout' })).toThrow("dropout#0: missing option 'p'");
    expect(one({ kind: 'batchNorm', momentom: 0.1 })).toThrow("batchNorm#0: unknown option 'momentom' (batchNorm takes eps, momentum)");
    expect(one({ kind: 'toString' })).toThrow(/layer #0: unknown layer kind "toString"/);
    expect(one({ channels: 2 })).toThrow(/layer #0: unknown layer kind undefined/);
    expect(one(null)).toThrow('layer #0: a layer spec must be an object {kind, ...options}, got null');
    expect(one('conv')).toThrow('layer #0: a layer spec must be an object {kind, ...options}, got "conv"');
  });

  it('sizes: non-integers, negatives, strings, tuples of the wrong length for the rank', () => {
    expect(one(conv({ channels: -1, kernel: 3 }))).toThrow('conv#0: output channels must be positive integers, got [-1]');
    expect(one(conv({ channels: 2, kernel: '3' as never }))).toThrow('conv#0: kernel must be a number or an array of 2 numbers (one per spatial axis), got "3"');
    expect(one(conv({ channels: 2, kernel: [3, 3], stride: [1, 1, 1] }))).toThrow('conv#0: stride [1, 1, 1] has 3 axes but the input has 2 spatial axes');
    expect(one(conv({ channels: 2, kernel: [3, 1.5] }))).toThrow('conv#0: kernel sizes must be positive integers, got [3, 1.5]');
    expect(one(conv({ channels: 2, kernel: 3, dilation: [1, 0] }))).toThrow('conv#0: dilations must be positive integers, got [1, 0]');
    expect(one(maxPool({ window: [2, 2], stride: 'x' as never }))).toThrow('maxPool#0: stride must be a number or an array of 2 numbers');
    expect(build([4], [dense({ units: 2.5 })])).toThrow('dense#0: units must be positive integers, got [2.5]');
  });

  it('activation, bias and init by name', () => {
    expect(one(conv({ channels: 2, kernel: 3, activation: 'Relu' as never }))).toThrow(
      'conv#0: unknown activation "Relu" (known: identity, sigmoid, tanh, relu, leaky-relu, gelu-tanh, softplus)',
    );
    expect(build([4], [{ kind: 'activation', fn: 'softmax' }])).toThrow('activation#0: unknown activation "softmax"');
    expect(build([4], [dense({ units: 2, bias: 'no' as never })])).toThrow('dense#0: bias must be true or false, got "no"');
    expect(build([4], [dense({ units: 2, init: 'xavier' as never })])).toThrow('dense#0: unknown init "xavier" (known: he, glorot)');
  });

  it('padding: strings other than same/valid; same with a stride or an even extent', () => {
    expect(one(conv({ channels: 2, kernel: 3, padding: 'full' as never }))).toThrow(
      "conv#0: padding must be a number, one number per spatial axis, 'same' or 'valid', got 'full'",
    );
    expect(one(conv({ channels: 2, kernel: 3, stride: [1, 2], padding: 'same' }))).toThrow(
      "conv#0: padding 'same' needs stride 1 on every axis, got stride [1, 2]",
    );
    expect(one(conv({ channels: 2, kernel: [3, 4], padding: 'same' }))).toThrow(
      "conv#0: padding 'same' needs an odd kernel extent d·(k−1)+1 on every axis; kernel [3, 4] with dilation [1, 1] spans [3, 4]",
    );
    // An even kernel with an even dilation has an odd extent: 2·(2−1)+1 = 3, padded by 1.
    expect(one(conv({ channels: 2, kernel: 2, dilation: 2, padding: 'same' }))().layers[0].outShape).toEqual([2, 8, 8]);
    expect(one(conv({ channels: 2, kernel: 3, padding: 'valid' }))().layers[0].outShape).toEqual([2, 6, 6]);
  });

  it('network arguments and options', () => {
    expect(build('1,8', [flatten()])).toThrow('network: the input shape must be an array, [C, ...spatial] or [features], got "1,8"');
    expect(build([4], flatten())).toThrow('network: the layers must be an array of layer specs, got {"kind":"flatten"}');
    expect(build([4], [flatten()], { los: 'mse' })).toThrow("network: unknown option 'los' (known: loss, seed, checkInputs, threads, limits)");
    expect(build([4], [flatten()], { seed: 1.5 })).toThrow('network: seed must be an integer, got 1.5');
    expect(build([4], [flatten()], { checkInputs: 'no' })).toThrow('network: checkInputs must be true or false, got "no"');
    expect(build([4], [flatten()], { loss: 'hasOwnProperty' })).toThrow("network: unknown loss 'hasOwnProperty'");
    expect(() => cpuBackend({ dtype: 'float32' } as never)).toThrow(`cpu backend: dtype must be 'float32' or 'float64', got {"dtype":"float32"}`);
  });
});

describe("padding 'same'", () => {
  const cases = [
    { rank: 1, inShape: [2, 11], kernel: [5], dilation: [1], pad: [2] },
    { rank: 2, inShape: [2, 7, 6], kernel: [3, 5], dilation: [2, 1], pad: [2, 2] },
    { rank: 3, inShape: [1, 5, 4, 6], kernel: [3, 1, 3], dilation: [1, 1, 2], pad: [1, 0, 2] },
  ];
  it.each(cases)('rank $rank: keeps the spatial shape and equals padding $pad (d·(k−1)/2), outputs and gradients', ({ inShape, kernel, dilation, pad }) => {
    // Two convolutions, so the second's input gradient (the adjoint with padding) is exercised too.
    const net = (first: 'same' | number[], second: 'same' | number) =>
      new Network(B, inShape, [
        conv({ channels: 3, kernel, dilation, padding: first, activation: 'tanh' }),
        conv({ channels: 2, kernel: 3, padding: second, activation: 'sigmoid' }),
        flatten(),
        dense({ units: 3 }),
      ], { seed: 5 });
    const same = net('same', 'same');
    const explicit = net(pad, 1);
    expect(same.layers[0].outShape).toEqual([3, ...inShape.slice(1)]);
    expect(same.layers[1].outShape).toEqual([2, ...inShape.slice(1)]);
    expect(same.params).toEqual(explicit.params);
    const batch = randomBatch(new Rng(9), inShape, 2, 3);
    // Identical geometry, so identical arithmetic: equality, not a tolerance.
    expect(same.predict(batch.x)).toEqual(explicit.predict(batch.x));
    const g = new Float64Array(same.paramCount);
    const g2 = new Float64Array(same.paramCount);
    expect(same.gradient(batch, g)).toBe(explicit.gradient(batch, g2));
    expect(g).toEqual(g2);
    expect(relError(g, numericGradient(() => same.loss(batch), same.params))).toBeLessThan(1e-6);
  });
});
