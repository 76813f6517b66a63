/**
 * Small real models for the optimizer tests, with exact gradients and Gauss-Newton products,
 * plus wrappers that misbehave on purpose (underestimated curvature, NaN products, NaN losses).
 */
import type { FloatArray } from '../../src/nd/dtype.js';
import type { Batch, Curvature, FactorOptions, KroneckerFactors, Model } from '../../src/nd/model.js';
import { Rng } from '../../src/nd/rng.js';

/**
 * Multinomial logistic regression: z = W x + b, loss = mean softmax cross-entropy.
 * Params: W [K, D] row-major, then b [K]. The model is linear in θ before the loss, so G = H:
 * Gv = (1/n) Σ_i Jᵢᵀ (diag(p) − p pᵀ) Jᵢ v with Jᵢ v = V xᵢ + v_b.
 */
export class SoftmaxRegression implements Model {
  readonly paramCount: number;
  readonly params: Float64Array;

  constructor(
    readonly inputs: number,
    readonly classes: number,
  ) {
    this.paramCount = classes * inputs + classes;
    this.params = new Float64Array(this.paramCount);
  }

  /** z = W x + b for sample i of batch, at parameters p (or V, v_b for a direction). */
  private logits(p: ArrayLike<number>, x: FloatArray, i: number, z: Float64Array): void {
    const { inputs: d, classes: k } = this;
    for (let c = 0; c < k; c++) {
      let s = p[k * d + c];
      for (let j = 0; j < d; j++) s += p[c * d + j] * x[i * d + j];
      z[c] = s;
    }
  }

  /** p = softmax(z) in place; returns log Σ exp z. */
  private static softmax(z: Float64Array): number {
    let m = -Infinity;
    for (const v of z) m = Math.max(m, v);
    let s = 0;
    for (let c = 0; c < z.length; c++) s += Math.exp(z[c] - m);
    for (let c = 0; c < z.length; c++) z[c] = Math.exp(z[c] - m) / s;
    return m + Math.log(s);
  }

  /** out += scale · (h ⊗ x_i, h): the adjoint of J_i. */
  private addJt(out: FloatArray, h: Float64Array, x: FloatArray, i: number, scale: number): void {
    const { inputs: d, classes: k } = this;
    for (let c = 0; c < k; c++) {
      for (let j = 0; j < d; j++) out[c * d + j] += scale * h[c] * x[i * d + j];
      out[k * d + c] += scale * h[c];
    }
  }

  loss(b: Batch): number {
    const z = new Float64Array(this.classes);
    let total = 0;
    for (let i = 0; i < b.n; i++) {
      this.logits(this.params, b.x, i, z);
      const label = b.y[i];
      const zy = z[label];
      total += SoftmaxRegression.softmax(z) - zy;
    }
    return total / b.n;
  }

  gradient(b: Batch, grad: FloatArray): number {
    grad.fill(0);
    const z = new Float64Array(this.classes);
    let total = 0;
    for (let i = 0; i < b.n; i++) {
      this.logits(this.params, b.x, i, z);
      const label = b.y[i];
      const zy = z[label];
      total += SoftmaxRegression.softmax(z) - zy;
      z[label] -= 1; // ∂ℓ/∂z = p − onehot(y)
      this.addJt(grad, z, b.x, i, 1 / b.n);
    }
    return total / b.n;
  }

  curvature(b: Batch): Curvature {
    const k = this.classes;
    const probs: Float64Array[] = [];
    for (let i = 0; i < b.n; i++) {
      const z = new Float64Array(k);
      this.logits(this.params, b.x, i, z);
      SoftmaxRegression.softmax(z);
      probs.push(z);
    }
    const gv = (v: FloatArray, out: FloatArray): void => {
      out.fill(0);
      const u = new Float64Array(k);
      for (let i = 0; i < b.n; i++) {
        this.logits(v, b.x, i, u);
        const p = probs[i];
        let pu = 0;
        for (let c = 0; c < k; c++) pu += p[c] * u[c];
        for (let c = 0; c < k; c++) u[c] = p[c] * u[c] - p[c] * pu; // (diag(p) − p pᵀ) u
        this.addJt(out, u, b.x, i, 1 / b.n);
      }
    };
    return { gv, hv: gv };
  }

  sumSquaredGradients(b: Batch, out: FloatArray): void {
    out.fill(0);
    const g = new Float64Array(this.paramCount);
    for (let i = 0; i < b.n; i++) {
      this.gradient({ x: b.x.subarray(i * this.inputs, (i + 1) * this.inputs), y: b.y.subarray(i, i + 1), n: 1 }, g);
      for (let j = 0; j < g.length; j++) out[j] += (g[j] * g[j]) / b.n;
    }
  }

  /**
   * K-FAC of the one dense layer, written out: A = mean x̄x̄ᵀ (x̄ = [x; 1]), G = mean of
   * (p − e_ŷ)(p − e_ŷ)ᵀ with ŷ ~ p ('fisher', one draw per sample from Rng(seed)), ŷ = y
   * ('empirical'), or of diag p − ppᵀ ('ggn').
   */
  kroneckerFactors(b: Batch, o: FactorOptions, grad?: FloatArray): { loss: number; factors: KroneckerFactors } {
    const [d, k] = [this.inputs, this.classes];
    const c = d + 1;
    const A = new Float64Array(c * c);
    const G = new Float64Array(k * k);
    const rng = new Rng(o.seed ?? 1);
    const z = new Float64Array(k);
    for (let i = 0; i < b.n; i++) {
      const xb = [...b.x.subarray(i * d, (i + 1) * d), 1];
      for (let r = 0; r < c; r++) for (let s = 0; s < c; s++) A[r * c + s] += (xb[r] * xb[s]) / b.n;
      this.logits(this.params, b.x, i, z);
      SoftmaxRegression.softmax(z);
      if (o.kind === 'ggn') {
        for (let r = 0; r < k; r++) for (let s = 0; s < k; s++) G[r * k + s] += ((r === s ? z[r] : 0) - z[r] * z[s]) / b.n;
        continue;
      }
      let y = b.y[i];
      if (o.kind === 'fisher') {
        const u = rng.uniform();
        let acc = 0;
        for (y = 0; y < k - 1 && u >= (acc += z[y]); y++);
      }
      const g = Array.from(z, (p, j) => p - (j === y ? 1 : 0));
      for (let r = 0; r < k; r++) for (let s = 0; s < k; s++) G[r * k + s] += (g[r] * g[s]) / b.n;
    }
    const loss = grad ? this.gradient(b, grad) : this.loss(b);
    const block = { name: 'dense', weight: 0, rows: k, cols: d, bias: k * d, A, G };
    return { loss, factors: { kind: o.kind, kronecker: [block], channels: [], samples: b.n } };
  }
}

/** A seeded classification problem for SoftmaxRegression: class means apart, unit noise. */
export function blobs(n: number, inputs: number, classes: number, seed: number): Batch {
  const rng = new Rng(seed);
  const centres = Array.from({ length: classes }, () => Array.from({ length: inputs }, () => 2 * rng.normal()));
  const x = new Float64Array(n * inputs);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % classes;
    for (let j = 0; j < inputs; j++) x[i * inputs + j] = centres[y[i]][j] + rng.normal();
  }
  return { x, y, n };
}

/**
 * f(θ) = ½ Σ a_j θ_j² − c_j θ_j, independent of the batch: the exact quadratic every optimizer
 * should handle (G = H = diag(a)). Σ gᵢ² is g² (one "example").
 */
export class DiagonalQuadratic implements Model {
  readonly paramCount: number;
  readonly params: Float64Array;

  constructor(
    readonly a: Float64Array,
    readonly c: Float64Array,
  ) {
    this.paramCount = a.length;
    this.params = new Float64Array(a.length);
  }

  loss(): number {
    let f = 0;
    for (let j = 0; j < this.a.length; j++) f += 0.5 * this.a[j] * this.params[j] ** 2 - this.c[j] * this.params[j];
    return f;
  }

  gradient(_b: Batch, grad: FloatArray): number {
    for (let j = 0; j < this.a.length; j++) grad[j] = this.a[j] * this.params[j] - this.c[j];
    return this.loss();
  }

  curvature(): Curvature {
    const gv = (v: FloatArray, out: FloatArray): void => {
      for (let j = 0; j < v.length; j++) out[j] = this.a[j] * v[j];
    };
    return { gv, hv: gv };
  }

  sumSquaredGradients(b: Batch, out: FloatArray): void {
    this.gradient(b, out);
    for (let j = 0; j < out.length; j++) out[j] *= out[j];
  }
}

/** A model forwarded to `inner`, with its curvature products replaced by `gv(inner's gv)`. */
export function withCurvature(
  inner: Model,
  gv: (call: number, v: FloatArray, out: FloatArray, exact: (v: FloatArray, out: FloatArray) => void) => void,
): Model {
  let calls = 0;
  return {
    paramCount: inner.paramCount,
    params: inner.params,
    loss: (b) => inner.loss(b),
    gradient: (b, g) => inner.gradient(b, g),
    sumSquaredGradients: (b, out) => inner.sumSquaredGradients(b, out),
    curvature: (b) => {
      const c = inner.curvature(b);
      const product = (v: FloatArray, out: FloatArray) => gv(calls++, v, out, c.gv);
      return { gv: product, hv: product };
    },
  };
}

/** A model whose loss is NaN farther than `radius` from where it starts (a "domain" edge). */
export function nanBeyond(inner: Model, radius: number): Model {
  const start = inner.params.slice();
  const outside = () => {
    let s = 0;
    for (let j = 0; j < start.length; j++) s += (inner.params[j] - start[j]) ** 2;
    return Math.sqrt(s) > radius;
  };
  return {
    paramCount: inner.paramCount,
    params: inner.params,
    loss: (b) => (outside() ? NaN : inner.loss(b)),
    gradient: (b, g) => inner.gradient(b, g),
    sumSquaredGradients: (b, out) => inner.sumSquaredGradients(b, out),
    curvature: (b) => inner.curvature(b),
  };
}

/** An empty batch for batch-independent models. */
export const NO_BATCH: Batch = { x: new Float64Array(0), y: new Int32Array(0), n: 1 };
