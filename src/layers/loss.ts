/**
 * Losses on the network outputs z [n, k], evaluated on the host in float64 (outputs are small,
 * and the loss value must be read back anyway). Each states its value, gradient and Hessian
 * side by side; the Hessian-vector product H_L·u is what Gv and Hv need at the top.
 */
import type { FloatArray } from '../nd/dtype.js';
import type { Rng } from '../nd/rng.js';
import { ShapeError } from '../nd/shape.js';

export type Targets = Int32Array | FloatArray;

export interface Loss {
  readonly name: LossName;
  /** Throws when `y` is not n rows of targets for k outputs (value() checks this itself). */
  checkTargets(y: Targets, n: number, k: number): void;
  /** Mean loss over the n rows; writes dE/dz into `grad` when given. */
  value(z: ArrayLike<number>, y: Targets, n: number, k: number, grad?: Float64Array): number;
  /** out = H_L·u, the Hessian of the mean loss w.r.t. z at z, times u. */
  hessianVec(z: ArrayLike<number>, y: Targets, n: number, k: number, u: ArrayLike<number>, out: Float64Array): void;
  /**
   * A symmetric factor of each sample's own loss Hessian (ℓ_r, not divided by n), H_ℓr = S_r S_rᵀ,
   * as k columns of n·k values: column c holds S_r[:, c] in row r. The exact GGN takes one
   * backward pass per column (K-FAC's type-2 factors, the exact GGN diagonal).
   */
  hessianFactor(z: ArrayLike<number>, n: number, k: number): Float64Array[];
  /**
   * out (n·k) = dℓ_r/dz_r at a target drawn from the model's predictive distribution at z_r,
   * with rngs[r] for row r: E over the draws of out_r out_rᵀ = H_ℓr, the Fisher's columns.
   */
  sampledGradient(z: ArrayLike<number>, n: number, k: number, rngs: readonly Rng[], out: Float64Array): void;
}

/**
 * E = (1/n) Σ_r −log p_r[y_r] with p_r = softmax(z_r)
 * dE/dz_r = (p_r − e_{y_r}) / n
 * H_L u   = (p ⊙ u − p (pᵀu)) / n per row (positive semi-definite; independent of the label)
 * H_ℓ = diag p − ppᵀ = S Sᵀ with S[:, c] = √p_c (e_c − p) (Σ_c p_c = 1 makes the cross terms cancel)
 * sampled: ŷ ~ Categorical(p), dℓ/dz = p − e_ŷ
 */
const softmaxCrossEntropy: Loss = {
  name: 'softmax-cross-entropy',
  checkTargets: checkLabels,
  value(z, y, n, k, grad) {
    checkLabels(y, n, k);
    let total = 0;
    const p = new Float64Array(k);
    for (let r = 0; r < n; r++) {
      const lse = softmaxRow(z, r * k, k, p);
      const label = y[r];
      total += lse - z[r * k + label];
      if (grad) for (let j = 0; j < k; j++) grad[r * k + j] = (p[j] - (j === label ? 1 : 0)) / n;
    }
    return total / n;
  },
  hessianVec(z, _y, n, k, u, out) {
    const p = new Float64Array(k);
    for (let r = 0; r < n; r++) {
      softmaxRow(z, r * k, k, p);
      let pu = 0;
      for (let j = 0; j < k; j++) pu += p[j] * u[r * k + j];
      for (let j = 0; j < k; j++) out[r * k + j] = (p[j] * (u[r * k + j] - pu)) / n;
    }
  },
  hessianFactor(z, n, k) {
    const cols = Array.from({ length: k }, () => new Float64Array(n * k));
    const p = new Float64Array(k);
    for (let r = 0; r < n; r++) {
      softmaxRow(z, r * k, k, p);
      cols.forEach((col, c) => {
        const s = Math.sqrt(p[c]);
        for (let j = 0; j < k; j++) col[r * k + j] = s * ((j === c ? 1 : 0) - p[j]);
      });
    }
    return cols;
  },
  sampledGradient(z, n, k, rngs, out) {
    const p = new Float64Array(k);
    for (let r = 0; r < n; r++) {
      softmaxRow(z, r * k, k, p);
      // ŷ by inversion of the cumulative sum; the last class takes rounding's remainder.
      const u = rngs[r].uniform();
      let y = 0;
      for (let acc = p[0]; y < k - 1 && u >= acc; ) acc += p[++y];
      for (let j = 0; j < k; j++) out[r * k + j] = p[j] - (j === y ? 1 : 0);
    }
  },
};

/**
 * E = (1/n) Σ_r ½‖z_r − t_r‖²;  dE/dz = (z − t) / n;  H_L u = u / n
 * H_ℓ = I = S Sᵀ with S = I;  sampled: t̂ ~ N(z, I), dℓ/dz = z − t̂ = −ε, ε ~ N(0, I)
 */
const meanSquaredError: Loss = {
  name: 'mse',
  checkTargets(t, n, k) {
    if (t.length !== n * k) throw new ShapeError(`mse: ${t.length} targets for outputs [${n}, ${k}] (need ${n * k})`);
  },
  value(z, t, n, k, grad) {
    this.checkTargets(t, n, k);
    let total = 0;
    for (let i = 0; i < n * k; i++) {
      const e = z[i] - t[i];
      total += 0.5 * e * e;
      if (grad) grad[i] = e / n;
    }
    return total / n;
  },
  hessianVec(_z, _t, n, k, u, out) {
    for (let i = 0; i < n * k; i++) out[i] = u[i] / n;
  },
  hessianFactor(_z, n, k) {
    return Array.from({ length: k }, (_, c) => {
      const col = new Float64Array(n * k);
      for (let r = 0; r < n; r++) col[r * k + c] = 1;
      return col;
    });
  },
  sampledGradient(_z, n, k, rngs, out) {
    for (let r = 0; r < n; r++) for (let j = 0; j < k; j++) out[r * k + j] = -rngs[r].normal();
  },
};

export const losses = {
  'softmax-cross-entropy': softmaxCrossEntropy,
  mse: meanSquaredError,
} as const;

export type LossName = keyof typeof losses;

/** p ← softmax(z[off .. off+k)); returns log Σ exp z (shifted by the max, so it never overflows). */
function softmaxRow(z: ArrayLike<number>, off: number, k: number, p: Float64Array): number {
  let m = -Infinity;
  for (let j = 0; j < k; j++) m = Math.max(m, z[off + j]);
  let s = 0;
  for (let j = 0; j < k; j++) s += p[j] = Math.exp(z[off + j] - m);
  for (let j = 0; j < k; j++) p[j] /= s;
  return m + Math.log(s);
}

function checkLabels(y: Targets, n: number, k: number): void {
  if (y.length !== n) throw new ShapeError(`softmax-cross-entropy: ${y.length} labels for ${n} samples`);
  for (let r = 0; r < n; r++) {
    if (!Number.isInteger(y[r]) || y[r] < 0 || y[r] >= k) {
      throw new ShapeError(`softmax-cross-entropy: label ${y[r]} of sample ${r} is outside 0..${k - 1} (outputs [${n}, ${k}])`);
    }
  }
}
