/** Activations and their first two derivatives, written side by side. */
import { SOFTPLUS_THRESHOLD, type ActivationKind } from '../../backend.js';
import type { FloatArray } from '../../dtype.js';

/** `slope` is leaky ReLU's negative slope; the other activations ignore it. */
type Fn = (out: FloatArray, x: FloatArray, slope: number) => void;

const C_GELU = Math.sqrt(2 / Math.PI);
const K_GELU = 0.044715;

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
  // leaky(x) = x for x > 0, a·x otherwise; leaky' = 1 or a (a at the kink, as PyTorch); leaky'' = 0.
  // Branch-free like relu: with p = [x > 0] ∈ {0, 1}, p·x + (1 − p)·a·x is exact.
  'leaky-relu': [
    (o, x, a) => { for (let i = 0; i < o.length; i++) { const v = x[i]; const p = +(v > 0); o[i] = p * v + (1 - p) * a * v; } },
    (o, x, a) => { for (let i = 0; i < o.length; i++) { const p = +(x[i] > 0); o[i] = p + (1 - p) * a; } },
    (o) => o.fill(0),
  ],
  // GELU, tanh form (PyTorch's approximate='tanh'): g = ½x(1 + t), t = tanh u, u = c(x + k x³),
  // c = √(2/π), k = 0.044715; with u' = c(1 + 3k x²) and u'' = 6ck x:
  //   g'  = ½(1 + t) + ½x(1 − t²)u'
  //   g'' = (1 − t²)(u' − x t u'² + ½x u'')
  'gelu-tanh': [
    (o, x) => { for (let i = 0; i < o.length; i++) { const v = x[i]; o[i] = 0.5 * v * (1 + Math.tanh(C_GELU * (v + K_GELU * v * v * v))); } },
    (o, x) => {
      for (let i = 0; i < o.length; i++) {
        const v = x[i];
        const t = Math.tanh(C_GELU * (v + K_GELU * v * v * v));
        o[i] = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * C_GELU * (1 + 3 * K_GELU * v * v);
      }
    },
    (o, x) => {
      for (let i = 0; i < o.length; i++) {
        const v = x[i];
        const t = Math.tanh(C_GELU * (v + K_GELU * v * v * v));
        const u1 = C_GELU * (1 + 3 * K_GELU * v * v);
        o[i] = (1 - t * t) * (u1 - v * t * u1 * u1 + 3 * C_GELU * K_GELU * v * v);
      }
    },
  ],
  // softplus = log(1 + eˣ), softplus' = σ(x), softplus'' = σ(1 − σ); above the threshold x itself
  // (derivatives 1 and 0), PyTorch's linear regime, which also keeps eˣ from overflowing.
  softplus: [
    (o, x) => { for (let i = 0; i < o.length; i++) { const v = x[i]; o[i] = v > SOFTPLUS_THRESHOLD ? v : Math.log1p(Math.exp(v)); } },
    (o, x) => { for (let i = 0; i < o.length; i++) { const v = x[i]; o[i] = v > SOFTPLUS_THRESHOLD ? 1 : sigmoid(v); } },
    (o, x) => { for (let i = 0; i < o.length; i++) { const v = x[i]; const s = sigmoid(v); o[i] = v > SOFTPLUS_THRESHOLD ? 0 : s * (1 - s); } },
  ],
};

type Fused = (out: FloatArray, x: FloatArray, m: FloatArray, slope: number) => void;

/**
 * out = m ⊙ σ'(x) in one pass: the deltas δ = dE/dy · σ'(x) of every backward step, which as a
 * derivative-then-multiply pair cost two sweeps over memory (a quarter of a LeNet step). The
 * costlier new activations (GELU, softplus) are not on any measured hot path: they run the two sweeps.
 */
export const derivativeTimes: Partial<Record<ActivationKind, Fused>> = {
  identity: (o, _x, m) => o.set(m),
  sigmoid: (o, x, m) => { for (let i = 0; i < o.length; i++) { const s = sigmoid(x[i]); o[i] = m[i] * s * (1 - s); } },
  tanh: (o, x, m) => { for (let i = 0; i < o.length; i++) { const t = Math.tanh(x[i]); o[i] = m[i] * (1 - t * t); } },
  relu: (o, x, m) => { for (let i = 0; i < o.length; i++) o[i] = m[i] * +(x[i] > 0); },
  'leaky-relu': (o, x, m, a) => { for (let i = 0; i < o.length; i++) { const p = +(x[i] > 0); o[i] = m[i] * (p + (1 - p) * a); } },
};

function sigmoid(x: number): number {
  // Split by sign so exp never overflows.
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}
