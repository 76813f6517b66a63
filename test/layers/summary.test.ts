/** net.summary() and String(net): every layer, its output shape and parameters, and the totals. */
import { describe, expect, it } from 'vitest';
import { conv, cpuBackend, dense, flatten, maxPool, Network, activation } from '../../src/index.js';
import { describeSpec } from '../../src/layers/summary.js';

const net = new Network(cpuBackend('float64'), [2, 12, 10], [
  conv({ channels: 4, kernel: [3, 5], padding: 1, activation: 'relu' }),
  maxPool({ window: 2 }),
  flatten(),
  dense({ units: 6, bias: false }),
  activation('tanh'),
  dense({ units: 3 }),
]);

describe('Network.summary', () => {
  const text = net.summary();
  const lines = text.split('\n');

  it('names the input and output shapes, loss, dtype and backend', () => {
    expect(lines[0]).toBe('Network [2, 12, 10] → [3], softmax-cross-entropy loss, float64');
    expect(lines[1]).toBe(`backend: ${net.backend.describe()}`);
  });

  it('has one row per layer with its options, output shape, parameter shapes and count', () => {
    const rows = lines.filter((l) => /^\d\s/.test(l)).map((l) => l.split(/\s{2,}/));
    // conv: 12×10 padded by 1 with a 3×5 kernel gives 12×8; the weights are [4, 2, 3, 5] = 120, bias 4.
    expect(rows).toEqual([
      ['0', 'conv(channels 4, kernel [3, 5], padding 1, activation relu)', '[4, 12, 8]', '[4, 2, 3, 5] + [4]', '124'],
      ['1', 'maxPool(window 2)', '[4, 6, 4]', '-', '0'],
      ['2', 'flatten', '[96]', '-', '0'],
      ['3', 'dense(units 6, bias false)', '[6]', '[6, 96]', '576'],
      ['4', 'activation(fn tanh)', '[6]', '-', '0'],
      ['5', 'dense(units 3)', '[3]', '[3, 6] + [3]', '21'],
    ]);
  });

  it('totals the parameters as the network counts them', () => {
    expect(net.paramCount).toBe(124 + 576 + 21);
    expect(lines.at(-1)).toBe('721 parameters (5.6 KiB as float64) in 6 layers');
  });

  it('groups thousands and reports float32 sizes', () => {
    const big = new Network(cpuBackend('float32'), [1, 28, 28], [flatten(), dense({ units: 20 })]);
    expect(big.summary().split('\n').at(-1)).toBe('15,700 parameters (61.3 KiB as float32) in 2 layers');
  });
});

describe('Network.toString', () => {
  it('is one readable line, not [object Object]', () => {
    expect(String(net)).toBe('Network([2, 12, 10] → conv → maxPool → flatten → dense → tanh → dense → [3]; 721 float64 parameters on cpu)');
    expect(`${net}`).toBe(net.toString());
  });
});

describe('describeSpec', () => {
  it('writes nested layer specs (a block body) as layers, other objects as JSON', () => {
    const block = { kind: 'block', body: [conv({ channels: 2, kernel: 3 }), activation('relu')], extra: { a: 1 } };
    expect(describeSpec(block as never)).toBe('block(body [conv(channels 2, kernel 3), activation(fn relu)], extra {"a":1})');
  });
});
