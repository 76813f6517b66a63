/**
 * Leaky ReLU, GELU (tanh form) and softplus: σ' and σ'' against central differences of σ and σ'
 * (float64, away from kinks), leaky ReLU's slope option, softplus's linear regime, and Hv
 * through each (σ'' enters R{dE/dz}) against finite differences of the gradient.
 */
import { describe, expect, it } from 'vitest';
import { activation, buildLayer, conv, dense, flatten } from '../../src/layers/index.js';
import { type ActivationFn } from '../../src/nd/backend.js';
import { cpuBackend } from '../../src/nd/backends/cpu/index.js';
import { Rng } from '../../src/nd/rng.js';
import { randn, relError } from '../helpers.js';
import { B64, checkLayer, checkNetwork } from './checks.js';

const NEW: ActivationFn[] = ['leaky-relu', { kind: 'leaky-relu', slope: 0.2 }, 'gelu-tanh', 'softplus'];

function apply(fn: ActivationFn, order: 0 | 1 | 2, xs: number[]): Float64Array {
  const x = B64.upload([xs.length], xs);
  const out = B64.zeros([xs.length]);
  B64.activation(out, x, fn, order);
  return B64.download(out) as Float64Array;
}

describe("σ' and σ'' against central differences of σ and σ'", () => {
  // Points off the kink at 0, both sides of softplus's threshold 20, and GELU's tails.
  const xs = [-25, -6, -2.5, -1, -0.3, 0.2, 0.7, 1.5, 3, 8, 19.5, 21, 30];
  const h = 1e-5;
  it.each(NEW.map((f) => [JSON.stringify(f), f] as const))('%s', (_, fn) => {
    const plus = xs.map((x) => x + h);
    const minus = xs.map((x) => x - h);
    for (const order of [1, 2] as const) {
      const fp = apply(fn, (order - 1) as 0 | 1, plus);
      const fm = apply(fn, (order - 1) as 0 | 1, minus);
      const numeric = fp.map((v, i) => (v - fm[i]) / (2 * h));
      // Central differences: O(h²f''') ≈ 1e-10 truncation, O(ε·|f|/h) rounding (≈ 1e-9 at |f| = 30): 1e-7 absolute.
      const exact = apply(fn, order, xs);
      exact.forEach((v, i) => expect(Math.abs(v - numeric[i])).toBeLessThan(1e-7));
    }
  });
});

describe('definitions', () => {
  it('leaky ReLU: slope 0.01 by default (PyTorch\'s negative_slope), or the one given; the kink takes the slope', () => {
    expect(Array.from(apply('leaky-relu', 0, [-2, 0, 3]))).toEqual([-0.02, 0, 3]);
    expect(Array.from(apply({ kind: 'leaky-relu', slope: 0.2 }, 0, [-2, 3]))).toEqual([-0.4, 3]);
    expect(Array.from(apply({ kind: 'leaky-relu', slope: 0.2 }, 1, [-2, 0, 3]))).toEqual([0.2, 0.2, 1]);
  });
  it('softplus: log(1 + eˣ) up to the threshold 20, x itself above it (derivatives 1 and 0)', () => {
    expect(apply('softplus', 0, [20, 20.5, 1e4])).toEqual(Float64Array.from([Math.log1p(Math.exp(20)), 20.5, 1e4]));
    expect(Array.from(apply('softplus', 1, [20.5]))).toEqual([1]);
    expect(Array.from(apply('softplus', 2, [20.5]))).toEqual([0]);
    expect(apply('softplus', 0, [-30])[0]).toBeCloseTo(Math.exp(-30), 25);
  });
  it('GELU (tanh): ½x(1 + tanh(√(2/π)(x + 0.044715x³))), not the erf form', () => {
    const x = 1.3;
    const tanhForm = 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
    expect(apply('gelu-tanh', 0, [x])[0]).toBe(tanhForm);
  });
  it('an unknown activation, or a slope on another kind, is an error naming the layer', () => {
    expect(() => buildLayer(B64, 2, [4], dense({ units: 2, activation: 'swish' as never }))).toThrow(/dense#2: unknown activation "swish"/);
    expect(() => buildLayer(B64, 0, [4], activation({ kind: 'gelu-tanh', slope: 1 } as never))).toThrow(/activation#0: .*only leaky-relu takes an object/);
    expect(() => buildLayer(B64, 0, [4], activation({ kind: 'leaky-relu', slope: NaN }))).toThrow(/only leaky-relu takes an object/);
  });
});

describe('gradients and Hv through each activation (float64, finite differences)', () => {
  it.each(NEW.map((f) => [JSON.stringify(f), f] as const))('%s', (_, fn) => {
    checkLayer(activation(fn), [3, 5]);
    checkLayer(dense({ units: 4, activation: fn }), [7]);
    // Inputs of scale ~1 put samples on both sides of 0, where σ'' is largest.
    checkNetwork([6], [dense({ units: 5, activation: fn }), dense({ units: 4, activation: fn }), dense({ units: 3 })]);
    checkNetwork([1, 7, 6], [conv({ channels: 2, kernel: 3, activation: fn }), flatten(), dense({ units: 3 })], 'mse');
  });
  it('the float32 backend agrees with float64 to float32 precision', () => {
    const B32 = cpuBackend('float32');
    // Inputs exactly representable in float32, so only the float32 result's rounding differs.
    const xs = Array.from(Float32Array.from(randn(new Rng(4), 200, 3)));
    for (const fn of NEW) {
      for (const order of [0, 1, 2] as const) {
        const out = B32.zeros([200]);
        B32.activation(out, B32.upload([200], xs), fn, order);
        // The CPU computes in double and rounds once to float32: ε32/2 ≈ 6e-8 relative per element.
        expect(relError(B32.download(out), apply(fn, order, xs))).toBeLessThan(1e-7);
      }
    }
  });
});
