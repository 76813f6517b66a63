/** Activations and their first two derivatives, written side by side. */
import type { ActivationKind } from '../../backend.js';
import type { FloatArray } from '../../dtype.js';

type Fn = (out: FloatArray, x: FloatArray) => void;

// order 0: f(x); order 1: f'(x); order 2: f''(x).
export const activationKernels: Record<ActivationKind, [Fn, Fn, Fn]> = {
  identity: [
    (o, x) => o.set(x),
    (o) => o.fill(1),
    (o) => o.fill(0),
  ],
  // σ = 1/(1+e^−x); σ' = σ(1−σ); σ'' = σ'(1−2σ)
  sigmoid: [
    (o, x) => { for (let i = 0; i < o.length; i++) o[i] = sigmoid(x[i]); },
    (o, x) => { for (let i = 0; i < o.length; i++) { const s = sigmoid(x[i]); o[i] = s * (1 - s); } },
    (o, x) => { for (let i = 0; i < o.length; i++) { const s = sigmoid(x[i]); o[i] = s * (1 - s) * (1 - 2 * s); } },
  ],
  // t = tanh x; t' = 1 − t²; t'' = −2t(1 − t²)
  tanh: [
    (o, x) => { for (let i = 0; i < o.length; i++) o[i] = Math.tanh(x[i]); },
    (o, x) => { for (let i = 0; i < o.length; i++) { const t = Math.tanh(x[i]); o[i] = 1 - t * t; } },
    (o, x) => { for (let i = 0; i < o.length; i++) { const t = Math.tanh(x[i]); o[i] = -2 * t * (1 - t * t); } },
  ],
  // relu = max(0, x) = (x + |x|)/2, exact in floating point; relu' = [x > 0]; relu'' = 0 (away
  // from the kink). Written without branches: the sign of real activations is a coin flip, and
  // a mispredicted branch per element made these loops 4× slower.
  relu: [
    (o, x) => { for (let i = 0; i < o.length; i++) { const v = x[i]; o[i] = (v + Math.abs(v)) * 0.5; } },
    (o, x) => { for (let i = 0; i < o.length; i++) o[i] = +(x[i] > 0); },
    (o) => o.fill(0),
  ],
};

type Fused = (out: FloatArray, x: FloatArray, m: FloatArray) => void;

/**
 * out = m ⊙ σ'(x) in one pass: the deltas δ = dE/dy · σ'(x) of every backward step, which as a
 * derivative-then-multiply pair cost two sweeps over memory (a quarter of a LeNet step).
 */
export const derivativeTimes: Record<ActivationKind, Fused> = {
  identity: (o, _x, m) => o.set(m),
  sigmoid: (o, x, m) => { for (let i = 0; i < o.length; i++) { const s = sigmoid(x[i]); o[i] = m[i] * s * (1 - s); } },
  tanh: (o, x, m) => { for (let i = 0; i < o.length; i++) { const t = Math.tanh(x[i]); o[i] = m[i] * (1 - t * t); } },
  relu: (o, x, m) => { for (let i = 0; i < o.length; i++) o[i] = m[i] * +(x[i] > 0); },
};

function sigmoid(x: number): number {
  // Split by sign so exp never overflows.
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}
