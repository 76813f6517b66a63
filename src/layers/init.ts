/** Weight initialisation from the seeded generator. */
import { activationParts, type ActivationFn } from '../nd/backend.js';
import type { FloatArray } from '../nd/dtype.js';
import type { Rng } from '../nd/rng.js';

export type InitKind = 'he' | 'glorot';
export const INIT_KINDS: readonly InitKind[] = ['he', 'glorot'];

/** He (normal, std √(2/fan_in)) suits relu and its smooth or leaky kin, which (nearly) zero half
 * their inputs; Glorot (uniform, ±√(6/(fan_in+fan_out))) keeps variance through sigmoid, tanh and identity. */
export function defaultInit(activation: ActivationFn): InitKind {
  return ['relu', 'leaky-relu', 'gelu-tanh', 'softplus'].includes(activationParts(activation).kind) ? 'he' : 'glorot';
}

export function initWeights(w: FloatArray, kind: InitKind, fanIn: number, fanOut: number, rng: Rng): void {
  if (kind === 'he') {
    const std = Math.sqrt(2 / fanIn);
    for (let i = 0; i < w.length; i++) w[i] = std * rng.normal();
  } else {
    const a = Math.sqrt(6 / (fanIn + fanOut));
    for (let i = 0; i < w.length; i++) w[i] = a * (2 * rng.uniform() - 1);
  }
}
