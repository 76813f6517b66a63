/** The new layers (residual blocks, average pools, new activations) in model files: architecture and weights round-trip. */
import { describe, expect, it } from 'vitest';
import { loadNetwork, networkToSafetensors } from '../../src/io/index.js';
import { activation, avgPool, conv, dense, globalAvgPool, residual } from '../../src/layers/index.js';
import { Network } from '../../src/network/index.js';
import { cpuBackend } from '../../src/nd/backends/cpu/index.js';
import { Rng } from '../../src/nd/rng.js';
import { randn } from '../helpers.js';

const B64 = cpuBackend('float64');

describe('model files', () => {
  it('a network of the new layers survives safetensors (architecture and weights): same names, same outputs', () => {
    const net = new Network(B64, [1, 8, 8], [
      conv({ channels: 4, kernel: 3, padding: 1, activation: { kind: 'leaky-relu', slope: 0.2 } }),
      residual([conv({ channels: 4, kernel: 3, padding: 1, activation: 'gelu-tanh' })]),
      activation('softplus'),
      residual([conv({ channels: 6, kernel: 3, stride: 2, padding: 1 }), avgPool({ window: 3, stride: 1, padding: 1, countIncludePad: false })], { projection: true }),
      globalAvgPool(),
      dense({ units: 3 }),
    ], { seed: 5 });
    const back = loadNetwork(networkToSafetensors(net));
    expect(back.namedParameters().map((p) => p.name)).toEqual(net.namedParameters().map((p) => p.name));
    const x = randn(new Rng(2), 2 * 64);
    // float64 written as F64: the same parameters, so bit-identical outputs.
    expect(Array.from(back.predict(x))).toEqual(Array.from(net.predict(x)));
  });
});
