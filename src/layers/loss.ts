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
  hessianFactor(z: ArrayLike<number>, y: Targets, n: number, k: number): Float64Array[];
  /**
   * out (n·k) = dℓ_r/dz_r at a target drawn from the model's predictive distribution at z_r,
   * with rngs[r] for row r: E over the draws of out_r out_rᵀ = H_ℓr, the Fisher's columns.
   */
  sampledGradient(z: ArrayLike<number>, y: Targets, n: number, k: number, rngs: readonly Rng[], out: Float64Array): void;
}

/**
 * Targets are either n class labels, or n rows of k target weights t_r (soft targets: label
 * smoothing, mixup), the cross-entropy with a distribution. With s_r = Σ_j t_rj (1 for a
 * distribution; labels are t_r = e_{y_r}):
 *
 * E = (1/n) Σ_r −Σ_j t_rj log p_rj = (1/n) Σ_r (s_r·lse(z_r) − t_rᵀz_r),  p_r = softmax(z_r)
 * dE/dz_r = (s_r·p_r − t_r) / n
 * H_L u   = s_r·(p ⊙ u − p (pᵀu)) / n per row (positive semi-definite; labels enter only through s_r)
 * H_ℓr = s_r(diag p − ppᵀ) = S Sᵀ with S[:, c] = √(s_r p_c)(e_c − p) (Σ_c p_c = 1 cancels the cross terms)
 * sampled: ŷ ~ Categorical(p), dℓ/dz = √s_r (p − e_ŷ), whose second moment is that H_ℓr
 */
const softmaxCrossEntropy: Loss = {
  name: 'softmax-cross-entropy',
  checkTargets(y, n, k) {
    checkTargets(y, n, k);
  },
  value(z, y, n, k, grad) {
    const soft = checkTargets(y, n, k);
    let total = 0;
    const p = new Float64Array(k);
    for (let r = 0; r < n; r++) {
      const lse = softmaxRow(z, r * k, k, p);
      if (soft) {
        let s = 0;
        let tz = 0;
        for (let j = 0; j < k; j++) {
          s += y[r * k + j];
          tz += y[r * k + j] * z[r * k + j];
        }
        total += s * lse - tz;
        if (grad) for (let j = 0; j < k; j++) grad[r * k + j] = (s * p[j] - y[r * k + j]) / n;
      } else {
        const label = y[r];
        total += lse - z[r * k + label];
        if (grad) for (let j = 0; j < k; j++) grad[r * k + j] = (p[j] - (j === label ? 1 : 0)) / n;
      }
    }
    return total / n;
  },
  hessianVec(z, y, n, k, u, out) {
    const soft = y.length === n * k && k > 1;
    const p = new Float64Array(k);
    for (let r = 0; r < n; r++) {
      softmaxRow(z, r * k, k, p);
      let s = 1;
      if (soft) {
        s = 0;
        for (let j = 0; j < k; j++) s += y[r * k + j];
      }
      let pu = 0;
      for (let j = 0; j < k; j++) pu += p[j] * u[r * k + j];
      for (let j = 0; j < k; j++) out[r * k + j] = (s * p[j] * (u[r * k + j] - pu)) / n;
    }
  },
  hessianFactor(z, y, n, k) {
    const cols = Array.from({ length: k }, () => new Float64Array(n * k));
    const p = new Float64Array(k);
    for (let r = 0; r < n; r++) {
      softmaxRow(z, r * k, k, p);
      const w = Math.sqrt(targetMass(y, r, n, k));
      cols.forEach((col, c) => {
        const s = w * Math.sqrt(p[c]);
        for (let j = 0; j < k; j++) col[r * k + j] = s * ((j === c ? 1 : 0) - p[j]);
      });
    }
    return cols;
  },
  sampledGradient(z, y, n, k, rngs, out) {
    const p = new Float64Array(k);
    for (let r = 0; r < n; r++) {
      softmaxRow(z, r * k, k, p);
      // ŷ by inversion of the cumulative sum; the last class takes rounding's remainder.
      const u = rngs[r].uniform();
      let c = 0;
      for (let acc = p[0]; c < k - 1 && u >= acc; ) acc += p[++c];
      const w = Math.sqrt(targetMass(y, r, n, k));
      for (let j = 0; j < k; j++) out[r * k + j] = w * (p[j] - (j === c ? 1 : 0));
    }
  },
};

/** s_r = Σ_j t_rj for soft targets, 1 for a label. */
function targetMass(y: Targets, r: number, n: number, k: number): number {
  if (!(y.length === n * k && k > 1)) return 1;
  let s = 0;
  for (let j = 0; j < k; j++) s += y[r * k + j];
  return s;
}

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
  hessianFactor(_z, _t, n, k) {
    return Array.from({ length: k }, (_, c) => {
      const col = new Float64Array(n * k);
      for (let r = 0; r < n; r++) col[r * k + c] = 1;
      return col;
    });
  },
  sampledGradient(_z, _t, n, k, rngs, out) {
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

/** Checks `y` as n labels or (k > 1) n·k soft targets; returns true for soft targets. */
function checkTargets(y: Targets, n: number, k: number): boolean {
  if (y.length === n * k && k > 1) {
    for (let i = 0; i < y.length; i++) {
      if (!(y[i] >= 0 && Number.isFinite(y[i]))) {
        throw new ShapeError(`softmax-cross-entropy: target weight ${y[i]} of sample ${Math.floor(i / k)} is not a finite number ≥ 0 (soft targets [${n}, ${k}])`);
      }
    }
    return true;
  }
  if (y.length !== n) throw new ShapeError(`softmax-cross-entropy: ${y.length} labels for ${n} samples (or ${n * k} soft targets for outputs [${n}, ${k}])`);
  for (let r = 0; r < n; r++) {
    if (!Number.isInteger(y[r]) || y[r] < 0 || y[r] >= k) {
      throw new ShapeError(`softmax-cross-entropy: label ${y[r]} of sample ${r} is outside 0..${k - 1} (outputs [${n}, ${k}])`);
    }
  }
  return false;
}
