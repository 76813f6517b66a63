/**
 * Gradient-norm clipping as torch.nn.utils.clip_grad_norm_: with the global L2 norm ‖g‖ over all
 * parameters, g ← g · min(1, c / (‖g‖ + 10⁻⁶)). The 10⁻⁶ is PyTorch's, so a gradient exactly at
 * the bound is scaled by a hair under 1, as there.
 */
import type { FloatArray } from '../nd/dtype.js';
import { norm } from '../nd/vec.js';

/** Clips `grad` in place to norm `maxNorm`; returns its norm before clipping. */
export function clipGradNorm(grad: FloatArray, maxNorm: number): number {
  const total = norm(grad);
  const coef = Math.min(1, maxNorm / (total + 1e-6));
  if (coef < 1) for (let i = 0; i < grad.length; i++) grad[i] *= coef;
  return total;
}

/** Checks a clipping bound: undefined (no clipping) or a finite number > 0. */
export function validateClip(owner: string, clipNorm: number | undefined): void {
  if (clipNorm !== undefined && !(Number.isFinite(clipNorm) && clipNorm > 0)) {
    throw new Error(`${owner}: clipNorm must be a finite number > 0, got ${clipNorm}`);
  }
}
