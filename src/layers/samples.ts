/**
 * Reductions the layers' per-sample extensions share (Layer.perSample), composed from Backend
 * primitives: a tensor of per-sample gradients G [m, ...shape] becomes each sample's squared norm,
 * the sum of squares over the samples and the sum itself. All are plane sums (biasGrad) of G ⊙ G
 * or G seen with another shape: [1, m, P] sums each sample's P values, [m, P] each value over the
 * samples.
 */
import type { Backend, Tensor } from '../nd/backend.js';
import { sizeOf } from '../nd/shape.js';
import type { Buffers, SampleOutputs } from './layer.js';

/** Per-sample gradients are materialised in chunks of about this many elements when only reductions are wanted. */
export const SAMPLE_CHUNK = 1 << 20;

/** out[n, c] = Σ over positions of t[n, c, ...]: per-sample bias-like gradients. */
export function planeSums(backend: Backend, out: Tensor, t: Tensor): void {
  const [n, c] = out.shape;
  const flat = backend.reshape(out, [n * c]);
  backend.fill(flat, 0);
  backend.biasGrad(flat, backend.reshape(t, [1, n * c, sizeOf(t.shape) / (n * c)]));
}

/** Reduces G [m, ...shape], the gradients of samples [first, first + m), into out's norms, squares and sums of tensor j. */
export function reduceSamples(backend: Backend, buf: Buffers, G: Tensor, first: number, out: SampleOutputs, j: number): void {
  const m = G.shape[0];
  const P = sizeOf(G.shape) / m;
  if (backend.sampleMoments) {
    const norms = out.norms ? buf.get(`rows:${m}`, [m]) : null;
    backend.sampleMoments(G, norms, out.squares?.[j] ?? null, out.sums?.[j] ?? null);
    if (norms) out.norms![j].set(backend.download(norms), first);
    return;
  }
  if (out.sums) backend.biasGrad(backend.reshape(out.sums[j], [P]), backend.reshape(G, [m, P]));
  if (!out.norms && !out.squares) return;
  const sq = buf.get(`squared${j}:${m}`, G.shape);
  backend.mul(sq, G, G);
  if (out.norms) out.norms[j].set(rowSums(backend, buf, sq, m, P), first);
  if (out.squares) backend.biasGrad(backend.reshape(out.squares[j], [P]), backend.reshape(sq, [m, P]));
}

/** Σ_p t[i, p] for each of the m rows of t, on the host. */
export function rowSums(backend: Backend, buf: Buffers, t: Tensor, m: number, P: number): Float64Array {
  const r = buf.get(`rows:${m}`, [m]);
  backend.fill(r, 0);
  backend.biasGrad(r, backend.reshape(t, [1, m, P]));
  return Float64Array.from(backend.download(r));
}
