import type { PatchSet } from '../../datasets/patches.js';

/** The smallest max-norm distance between a centre of `a` and a centre of `b` (brute force). */
export function minCrossDistance(a: PatchSet, b: PatchSet): number {
  let best = Infinity;
  for (let i = 0; i < a.centres.length; i += 3) {
    for (let j = 0; j < b.centres.length; j += 3) {
      const d = Math.max(
        Math.abs(a.centres[i] - b.centres[j]),
        Math.abs(a.centres[i + 1] - b.centres[j + 1]),
        Math.abs(a.centres[i + 2] - b.centres[j + 2]),
      );
      if (d < best) best = d;
    }
  }
  return best;
}
