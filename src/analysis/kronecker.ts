/**
 * The K-FAC operator: the block-diagonal, Kronecker-factored approximation of the Fisher / GGN
 * (Martens & Grosse 2015; KFC for convolutions, Grosse & Martens 2016) that a Model's
 * `kroneckerFactors` describes, as a SymmetricOperator (Lanczos, Hutchinson and SLQ use it
 * unchanged), with its damped inverse through the factors' eigendecompositions.
 *
 * For a block with W̄ = [W | b] (rows × c̄) and factors A (c̄ × c̄), G (rows × rows), row-major
 * vec(W̄) and F_block = G ⊗ A:
 *   multiply         F vec(V) = vec(G V A)
 *   exact damping    (G ⊗ A + λI)⁻¹ vec(V) = vec(Q_Gᵀ [(Q_G V Q_Aᵀ) ⊘ (λ_G λ_Aᵀ + λ)] Q_A)
 *                    with A = Q_Aᵀ diag(λ_A) Q_A, G = Q_Gᵀ diag(λ_G) Q_G (eigenvectors as rows)
 *   factored Tikhonov (G + (γ/π)I)⁻¹ ⊗ (A + πγI)⁻¹, γ = √λ, π² = (tr A / c̄) / (tr G / rows)
 *                    (Martens & Grosse §6.3): the same formula with the denominator
 *                    (λ_G,i + γ/π)(λ_A,j + πγ), and the inverse of a Kronecker product, so it
 *                    is what the optimizer may refresh rarely and apply cheaply.
 * Per-channel blocks (batch norm's γ, β) are 2×2 matrices, inverted exactly (F_c + λI)⁻¹ in both
 * damping modes: they have no Kronecker structure to factor.
 * Every parameter must lie in exactly one block (checked), so the operator is the whole K-FAC.
 */
import { sliceBatch, type Batch, type ChannelBlock, type FactorOptions, type KroneckerBlock, type KroneckerFactors, type Model } from '../nd/model.js';
import { nativeGemm } from '../nd/linalg.js';
import { eigenSymmetric, type SymmetricEigen } from './eigen.js';
import type { SymmetricOperator } from './operator.js';

export type DampingKind = 'exact' | 'factored';

/** One Kronecker block's factors, each eigendecomposed: A = Q_A Λ_A Q_Aᵀ, G = Q_G Λ_G Q_Gᵀ. */
export interface FactorEigen {
  A: SymmetricEigen;
  G: SymmetricEigen;
}

/** Work space of one block, reused by every product. */
interface Work {
  V: Float64Array;
  T: Float64Array;
}

export class KroneckerOperator implements SymmetricOperator {
  readonly dim: number;
  /** Products computed so far. */
  products = 0;
  private eigen: FactorEigen[] | null = null;
  private readonly work: Work[];

  constructor(
    readonly factors: KroneckerFactors,
    dim: number,
  ) {
    this.dim = dim;
    checkCoverage(factors, dim);
    this.work = factors.kronecker.map((b) => {
      const c = b.cols + (b.bias === null ? 0 : 1);
      return { V: new Float64Array(b.rows * c), T: new Float64Array(b.rows * c) };
    });
  }

  /** out = F v. */
  apply(v: Float64Array, out: Float64Array): void {
    this.check('apply', v, out);
    this.factors.kronecker.forEach((b, k) => {
      const { V, T } = this.work[k];
      const c = gather(b, v, V);
      mm(T, b.G, V, b.rows, b.rows, c, false, false);
      mm(V, T, b.A, b.rows, c, c, false, false);
      scatter(b, V, out);
    });
    for (const b of this.factors.channels) {
      for (let i = 0; i < b.channels; i++) {
        const [aa, ab, bb] = [b.F[3 * i], b.F[3 * i + 1], b.F[3 * i + 2]];
        const [x, y] = [v[b.scale + i], v[b.shift + i]];
        out[b.scale + i] = aa * x + ab * y;
        out[b.shift + i] = ab * x + bb * y;
      }
    }
    this.products++;
  }

  /**
   * out = (F + λI)⁻¹ v ('exact', the inverse of this operator plus λI) or its factored-Tikhonov
   * approximation ('factored'). The factors' eigendecompositions are computed on first use and
   * kept: later solves at any λ cost four small matrix products per block.
   */
  solve(v: ArrayLike<number>, out: { [i: number]: number; length: number }, lambda: number, kind: DampingKind = 'exact'): void {
    if (!(lambda > 0 && Number.isFinite(lambda))) throw new Error(`K-FAC solve: the damping λ must be a positive number, got ${lambda}`);
    if (kind !== 'exact' && kind !== 'factored') throw new Error(`K-FAC solve: damping must be 'exact' or 'factored', got '${String(kind)}'`);
    this.check('solve', v, out);
    const eig = this.eigendecompose();
    this.factors.kronecker.forEach((b, k) => {
      const { V, T } = this.work[k];
      const { A, G } = eig[k];
      const c = gather(b, v, V);
      // Coordinates in the eigenbasis: Q_G V Q_Aᵀ.
      mm(T, G.vectors, V, b.rows, b.rows, c, false, false);
      mm(V, T, A.vectors, b.rows, c, c, false, true);
      const [shiftG, shiftA] = kind === 'exact' ? [0, 0] : tikhonovShifts(b, lambda);
      for (let i = 0; i < b.rows; i++) {
        const gi = Math.max(0, G.values[i]) + shiftG;
        for (let j = 0; j < c; j++) {
          const aj = Math.max(0, A.values[j]) + shiftA;
          V[i * c + j] /= kind === 'exact' ? gi * aj + lambda : gi * aj;
        }
      }
      mm(T, G.vectors, V, b.rows, b.rows, c, true, false);
      mm(V, T, A.vectors, b.rows, c, c, false, false);
      scatter(b, V, out);
    });
    for (const b of this.factors.channels) {
      for (let i = 0; i < b.channels; i++) {
        const [aa, ab, bb] = [b.F[3 * i] + lambda, b.F[3 * i + 1], b.F[3 * i + 2] + lambda];
        const det = aa * bb - ab * ab;
        const [x, y] = [v[b.scale + i], v[b.shift + i]];
        out[b.scale + i] = (bb * x - ab * y) / det;
        out[b.shift + i] = (aa * y - ab * x) / det;
      }
    }
  }

  /** (F + λI)⁻¹ (or its factored approximation) as an operator of its own. */
  inverse(lambda: number, kind: DampingKind = 'exact'): SymmetricOperator {
    return { dim: this.dim, apply: (v, out) => this.solve(v, out, lambda, kind) };
  }

  /** The factors' eigendecompositions (computed once; the optimizer refreshes by making a new operator). */
  eigendecompose(): FactorEigen[] {
    this.eigen ??= this.factors.kronecker.map((b) => ({ A: eigenSymmetric(b.A, b.cols + (b.bias === null ? 0 : 1)), G: eigenSymmetric(b.G, b.rows) }));
    return this.eigen;
  }

  private check(where: string, v: { length: number }, out: { length: number }): void {
    if (v.length !== this.dim || out.length !== this.dim) {
      throw new Error(`K-FAC ${where}: vectors of length ${v.length} and ${out.length}, the operator has ${this.dim} parameters`);
    }
  }
}

export interface KroneckerDataOptions extends FactorOptions {
  /** Samples per factor batch (default: all in one). */
  batchSize?: number;
}

/**
 * The K-FAC factors of a data set's mean loss, computed batch by batch: each factor is the mean
 * of its batches' factors weighted by n_b / N, so A and G are the whole data set's averages
 * (the same for any batching; the product G ⊗ A is not a mean of per-batch products).
 */
export function dataFactors(model: Model, data: Batch, options: KroneckerDataOptions): KroneckerFactors {
  if (!model.kroneckerFactors) throw new Error('K-FAC: this model has no Kronecker factors (kroneckerFactors)');
  const batchSize = options.batchSize ?? data.n;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new Error(`K-FAC: batch size must be a positive integer, got ${batchSize}`);
  if (!Number.isInteger(data.n) || data.n < 1) throw new Error(`K-FAC: the data set holds no samples (n = ${data.n})`);
  let total: KroneckerFactors | null = null;
  for (let s = 0, part = 0; s < data.n; s += batchSize, part++) {
    const e = Math.min(data.n, s + batchSize);
    const seed = (options.seed ?? 1) + part;
    const { factors } = model.kroneckerFactors(sliceBatch(data, s, e), { ...options, seed });
    const w = (e - s) / data.n;
    if (total === null) total = scaled(factors, w, data.n);
    else addScaledFactors(total, factors, w);
  }
  return total!;
}

/** The K-FAC operator of a data set's mean loss (dataFactors). */
export function kroneckerOperator(model: Model, data: Batch, options: KroneckerDataOptions): KroneckerOperator {
  return new KroneckerOperator(dataFactors(model, data, options), model.paramCount);
}

/**
 * ε·old + (1 − ε)·new, block by block, into `into` (Martens & Grosse §5: the optimizer's
 * exponentially decayed factor estimates). The blocks must be the same network's.
 */
export function blendFactors(into: KroneckerFactors, fresh: KroneckerFactors, decay: number): void {
  sameLayout(into, fresh);
  into.kronecker.forEach((b, k) => {
    blend(b.A, fresh.kronecker[k].A, decay);
    blend(b.G, fresh.kronecker[k].G, decay);
  });
  into.channels.forEach((b, k) => blend(b.F, fresh.channels[k].F, decay));
}

/** A deep copy of `f`, every factor times w. */
function scaled(f: KroneckerFactors, w: number, samples: number): KroneckerFactors {
  return {
    kind: f.kind,
    samples,
    kronecker: f.kronecker.map((b) => ({ ...b, A: b.A.map((x) => x * w), G: b.G.map((x) => x * w) })),
    channels: f.channels.map((b) => ({ ...b, F: b.F.map((x) => x * w) })),
  };
}

function addScaledFactors(into: KroneckerFactors, f: KroneckerFactors, w: number): void {
  sameLayout(into, f);
  const add = (a: Float64Array, b: Float64Array) => {
    for (let i = 0; i < a.length; i++) a[i] += w * b[i];
  };
  into.kronecker.forEach((b, k) => {
    add(b.A, f.kronecker[k].A);
    add(b.G, f.kronecker[k].G);
  });
  into.channels.forEach((b, k) => add(b.F, f.channels[k].F));
}

function blend(a: Float64Array, b: Float64Array, decay: number): void {
  for (let i = 0; i < a.length; i++) a[i] = decay * a[i] + (1 - decay) * b[i];
}

function sameLayout(a: KroneckerFactors, b: KroneckerFactors): void {
  const key = (f: KroneckerFactors) =>
    JSON.stringify([f.kronecker.map((k) => [k.name, k.weight, k.rows, k.cols, k.bias]), f.channels.map((c) => [c.name, c.scale, c.shift, c.channels])]);
  if (key(a) !== key(b)) throw new Error('K-FAC: the factors belong to different networks (their blocks differ)');
}

/** The (G, A) shifts of factored Tikhonov damping for one block: γ/π and πγ. */
function tikhonovShifts(b: KroneckerBlock, lambda: number): [number, number] {
  const c = b.cols + (b.bias === null ? 0 : 1);
  let trA = 0;
  let trG = 0;
  for (let i = 0; i < c; i++) trA += b.A[i * c + i];
  for (let i = 0; i < b.rows; i++) trG += b.G[i * b.rows + i];
  // A factor with zero trace (a dead layer) carries no scale: split the damping evenly.
  const pi = trA > 0 && trG > 0 ? Math.sqrt(trA / c / (trG / b.rows)) : 1;
  const gamma = Math.sqrt(lambda);
  return [gamma / pi, pi * gamma];
}

/** V (rows × c̄) ← W̄ = [W | b] from the flat vector v; returns c̄. */
function gather(b: KroneckerBlock, v: ArrayLike<number>, V: Float64Array): number {
  const c = b.cols + (b.bias === null ? 0 : 1);
  for (let o = 0; o < b.rows; o++) {
    const src = b.weight + o * b.cols;
    for (let i = 0; i < b.cols; i++) V[o * c + i] = v[src + i];
    if (b.bias !== null) V[o * c + b.cols] = v[b.bias + o];
  }
  return c;
}

function scatter(b: KroneckerBlock, V: Float64Array, out: { [i: number]: number }): void {
  const c = b.cols + (b.bias === null ? 0 : 1);
  for (let o = 0; o < b.rows; o++) {
    const dst = b.weight + o * b.cols;
    for (let i = 0; i < b.cols; i++) out[dst + i] = V[o * c + i];
    if (b.bias !== null) out[b.bias + o] = V[o * c + b.cols];
  }
}

/**
 * C (m × n) = op(X) · op(Y), row-major: op(X) (m × k) is X, or Xᵀ of X stored k × m; op(Y)
 * (k × n) is Y, or Yᵀ of Y stored n × k. BLAS where the addon loaded (a preconditioned step is
 * four of these per layer, up to 16 × 801 × 801 on a 64-channel conv), else plain loops.
 */
function mm(C: Float64Array, X: Float64Array, Y: Float64Array, m: number, k: number, n: number, transX: boolean, transY: boolean): void {
  if (nativeGemm) return nativeGemm(transX, transY, m, n, k, 1, X, 0, transX ? m : k, Y, 0, transY ? k : n, 0, C, 0, n);
  C.fill(0, 0, m * n);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const x = transX ? X[p * m + i] : X[i * k + p];
      if (x === 0) continue;
      const cr = i * n;
      if (transY) for (let j = 0; j < n; j++) C[cr + j] += x * Y[j * k + p];
      else for (let j = 0, yr = p * n; j < n; j++) C[cr + j] += x * Y[yr + j];
    }
  }
}

/** Every parameter in exactly one block, every factor of the right size. */
function checkCoverage(f: KroneckerFactors, dim: number): void {
  const owner = new Int32Array(dim).fill(-1);
  const claim = (name: string, offset: number, size: number, k: number) => {
    if (!(Number.isInteger(offset) && offset >= 0 && offset + size <= dim)) throw new Error(`K-FAC: block '${name}' [${offset}, ${offset + size}) lies outside the ${dim} parameters`);
    for (let i = offset; i < offset + size; i++) {
      if (owner[i] !== -1) throw new Error(`K-FAC: parameter ${i} belongs to two blocks ('${name}' and another)`);
      owner[i] = k;
    }
  };
  let k = 0;
  for (const b of f.kronecker) {
    const c = b.cols + (b.bias === null ? 0 : 1);
    if (b.A.length !== c * c || b.G.length !== b.rows * b.rows) {
      throw new Error(`K-FAC: block '${b.name}' needs A ${c}×${c} and G ${b.rows}×${b.rows}, got ${b.A.length} and ${b.G.length} values`);
    }
    claim(b.name, b.weight, b.rows * b.cols, k);
    if (b.bias !== null) claim(b.name, b.bias, b.rows, k);
    k++;
  }
  for (const b of f.channels as ChannelBlock[]) {
    if (b.F.length !== 3 * b.channels) throw new Error(`K-FAC: block '${b.name}' needs 3 values per channel, got ${b.F.length} for ${b.channels}`);
    claim(b.name, b.scale, b.channels, k);
    claim(b.name, b.shift, b.channels, k);
    k++;
  }
  const missing = owner.indexOf(-1);
  if (missing !== -1) throw new Error(`K-FAC: parameter ${missing} belongs to no block (the model's factors do not cover it)`);
}
