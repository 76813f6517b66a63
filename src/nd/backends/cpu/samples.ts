/**
 * Backend.sampleMoments on the CPU: one pass over the m rows of per-sample gradients G [m, P],
 * four rows at a time, so that each squares[p] and sums[p] is read and written once per four
 * samples (V8 runs these loops scalar; the read-modify-writes dominated).
 */
import type { FloatArray } from '../../dtype.js';

export function sampleMoments(G: FloatArray, m: number, P: number, norms: FloatArray | null, squares: FloatArray | null, sums: FloatArray | null): void {
  let i = 0;
  for (; i + 4 <= m; i += 4) {
    const r0 = i * P;
    const r1 = r0 + P;
    const r2 = r1 + P;
    const r3 = r2 + P;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let p = 0; p < P; p++) {
      const a = G[r0 + p];
      const b = G[r1 + p];
      const c = G[r2 + p];
      const d = G[r3 + p];
      s0 += a * a;
      s1 += b * b;
      s2 += c * c;
      s3 += d * d;
      if (squares !== null) squares[p] += a * a + b * b + c * c + d * d;
      if (sums !== null) sums[p] += a + b + c + d;
    }
    if (norms !== null) {
      norms[i] = s0;
      norms[i + 1] = s1;
      norms[i + 2] = s2;
      norms[i + 3] = s3;
    }
  }
  for (; i < m; i++) {
    const row = i * P;
    let s = 0;
    for (let p = 0; p < P; p++) {
      const g = G[row + p];
      s += g * g;
      if (squares !== null) squares[p] += g * g;
      if (sums !== null) sums[p] += g;
    }
    if (norms !== null) norms[i] = s;
  }
}
