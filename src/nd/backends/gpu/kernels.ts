/**
 * gpu.js kernel bodies, one per primitive, rank-generic. gpu.js transpiles each function's
 * source to GLSL (or WebAssembly, or JS), so every body is written in the subset it accepts:
 * no closures, no helpers beyond `idiv`, loop bounds from `this.constants` (GLSL ES 1.00 wants
 * compile-time bounds), and every tensor a flat 1-D array indexed by its row-major offset.
 *
 * Geometry arrives as constants lifted to three spatial axes (z, y, x = ConvGeometry.in3/o3/…):
 * rank 1 and 2 are rank 3 with leading singleton axes, so one body serves every rank.
 * Outputs are 1-D of the destination's length; `this.thread.x` is the destination offset.
 */
import type { IKernelFunctionThis } from 'gpu.js';

// The constants each kernel reads; gpu.js bakes them into the shader source.
type K = IKernelFunctionThis<Record<string, number>>;

/**
 * ⌊a / b⌋ for non-negative integers held in floats. GPUs may compute a/b as a·(1/b), which for
 * a = 6, b = 3 can give 1.99999…; dividing a + ½ keeps the quotient ½/b away from any integer.
 */
export function idiv(a: number, b: number): number {
  return Math.floor((a + 0.5) / b);
}

/** out = a copy of a host array (upload) or of another tensor. */
export function copyK(this: K, a: number[]): number {
  return a[this.thread.x];
}

export function fillK(this: K, value: number): number {
  return value;
}

/** out = alpha · x + beta · y (axpy: beta = 1; scale: beta = 0 with y = x). */
export function linearK(this: K, x: number[], y: number[], alpha: number, beta: number): number {
  return alpha * x[this.thread.x] + beta * y[this.thread.x];
}

export function mulK(this: K, a: number[], b: number[]): number {
  return a[this.thread.x] * b[this.thread.x];
}

/**
 * f, f' or f'' (constant ORDER 0..2) of the activation KIND, its index in ACTIVATIONS:
 * 0 identity, 1 sigmoid, 2 tanh, 3 relu, 4 leaky-relu (negative slope `slope`), 5 gelu-tanh,
 * 6 softplus. The formulas are the CPU's (cpu/elementwise.ts, derivatives stated there); GLSL
 * ES 1.00 has no tanh or log1p, so tanh comes from e^{−2|u|}, which cannot overflow, and
 * log(1 + e) from its series e − e²/2 where 1 + e would round e away.
 */
export function activationK(this: K, x: number[], slope: number): number {
  const v = x[this.thread.x];
  let r = 0;
  if (this.constants.KIND === 0) {
    if (this.constants.ORDER === 0) r = v;
    if (this.constants.ORDER === 1) r = 1;
  }
  if (this.constants.KIND === 1 || this.constants.KIND === 6) {
    // σ(v) from exp(−|v|) so neither branch overflows; softplus' = σ, softplus'' = σ(1 − σ).
    const e = Math.exp(-Math.abs(v));
    let s = 1 / (1 + e);
    if (v < 0) s = e / (1 + e);
    if (this.constants.KIND === 1) {
      r = s;
      if (this.constants.ORDER === 1) r = s * (1 - s);
      if (this.constants.ORDER === 2) r = s * (1 - s) * (1 - 2 * s);
    } else {
      // softplus(v) = max(v, 0) + log(1 + e^{−|v|}); linear above THRESHOLD (SOFTPLUS_THRESHOLD).
      let l = Math.log(1 + e);
      if (e < 1e-4) l = e - 0.5 * e * e;
      r = Math.max(v, 0) + l;
      if (this.constants.ORDER === 1) r = s;
      if (this.constants.ORDER === 2) r = s * (1 - s);
      if (v > this.constants.THRESHOLD) {
        r = 0;
        if (this.constants.ORDER === 0) r = v;
        if (this.constants.ORDER === 1) r = 1;
      }
    }
  }
  if (this.constants.KIND === 2 || this.constants.KIND === 5) {
    // tanh u = sign(u)(1 − e^{−2|u|})/(1 + e^{−2|u|}); u = v for tanh, c(v + k v³) for GELU.
    let u = v;
    if (this.constants.KIND === 5) u = 0.7978845608028654 * (v + 0.044715 * v * v * v);
    const e = Math.exp(-2 * Math.abs(u));
    let t = (1 - e) / (1 + e);
    if (u < 0) t = -t;
    if (this.constants.KIND === 2) {
      r = t;
      if (this.constants.ORDER === 1) r = 1 - t * t;
      if (this.constants.ORDER === 2) r = -2 * t * (1 - t * t);
    } else {
      const u1 = 0.7978845608028654 * (1 + 3 * 0.044715 * v * v);
      r = 0.5 * v * (1 + t);
      if (this.constants.ORDER === 1) r = 0.5 * (1 + t) + 0.5 * v * (1 - t * t) * u1;
      if (this.constants.ORDER === 2) r = (1 - t * t) * (u1 - v * t * u1 * u1 + 3 * 0.7978845608028654 * 0.044715 * v * v);
    }
  }
  if (this.constants.KIND === 3 || this.constants.KIND === 4) {
    // relu is leaky ReLU with slope 0: f = v or a·v, f' = 1 or a (a at the kink, as on the CPU).
    let a = slope;
    if (this.constants.KIND === 3) a = 0;
    if (this.constants.ORDER === 0) r = a * v;
    if (this.constants.ORDER === 1) r = a;
    if (v > 0) {
      if (this.constants.ORDER === 0) r = v;
      if (this.constants.ORDER === 1) r = 1;
    }
  }
  return r;
}

/** C = alpha · op(A) · op(B) + beta · C over the constant inner size KK; TA/TB pick transposes. */
export function gemmK(this: K, a: number[], b: number[], c: number[], alpha: number, beta: number): number {
  const i = idiv(this.thread.x, this.constants.N);
  const j = this.thread.x - i * this.constants.N;
  let s = 0;
  for (let k = 0; k < this.constants.KK; k++) {
    let ai = i * this.constants.KK + k;
    if (this.constants.TA === 1) ai = k * this.constants.M + i;
    let bi = k * this.constants.N + j;
    if (this.constants.TB === 1) bi = j * this.constants.KK + k;
    s += a[ai] * b[bi];
  }
  return alpha * s + beta * c[this.thread.x];
}

/** Partial sums of a ⊙ b over CHUNK consecutive elements (dot's first stage; the host adds the rest). */
export function dotPartialK(this: K, a: number[], b: number[]): number {
  let s = 0;
  for (let k = 0; k < this.constants.CHUNK; k++) {
    const i = this.thread.x * this.constants.CHUNK + k;
    if (i < this.constants.LEN) s += a[i] * b[i];
  }
  return s;
}

/**
 * y[n,o,i] (+)= Σ_{c,a} w[o,c,a] · x[n, c, i·s + a·d − p], the cross-correlation with stride s,
 * dilation d and zero padding p; taps that land in the padding contribute nothing.
 */
export function convK(this: K, x: number[], w: number[], yPrev: number[]): number {
  const ox = this.thread.x - idiv(this.thread.x, this.constants.O2) * this.constants.O2;
  let t = idiv(this.thread.x, this.constants.O2);
  const oy = t - idiv(t, this.constants.O1) * this.constants.O1;
  t = idiv(t, this.constants.O1);
  const oz = t - idiv(t, this.constants.O0) * this.constants.O0;
  t = idiv(t, this.constants.O0);
  const o = t - idiv(t, this.constants.COUT) * this.constants.COUT;
  const n = idiv(t, this.constants.COUT);
  let s = 0;
  for (let c = 0; c < this.constants.CIN; c++) {
    for (let az = 0; az < this.constants.K0; az++) {
      const iz = oz * this.constants.S0 + az * this.constants.D0 - this.constants.P0;
      for (let ay = 0; ay < this.constants.K1; ay++) {
        const iy = oy * this.constants.S1 + ay * this.constants.D1 - this.constants.P1;
        for (let ax = 0; ax < this.constants.K2; ax++) {
          const ix = ox * this.constants.S2 + ax * this.constants.D2 - this.constants.P2;
          if (iz >= 0 && iz < this.constants.I0 && iy >= 0 && iy < this.constants.I1 && ix >= 0 && ix < this.constants.I2) {
            const wi = (((o * this.constants.CIN + c) * this.constants.K0 + az) * this.constants.K1 + ay) * this.constants.K2 + ax;
            const xi = (((n * this.constants.CIN + c) * this.constants.I0 + iz) * this.constants.I1 + iy) * this.constants.I2 + ix;
            s += w[wi] * x[xi];
          }
        }
      }
    }
  }
  return s + this.constants.ACC * yPrev[this.thread.x];
}

/**
 * dx[n,c,j] (+)= Σ_{o,a} w[o,c,a] · dy[n, o, (j + p − a·d)/s] over the taps where that quotient
 * is a whole in-range output index: conv's adjoint in x, gathered per input element (the full
 * correlation with the flipped kernel when s = 1), so no two threads write one element.
 */
export function convBackDataK(this: K, dy: number[], w: number[], dxPrev: number[]): number {
  const jx = this.thread.x - idiv(this.thread.x, this.constants.I2) * this.constants.I2;
  let t = idiv(this.thread.x, this.constants.I2);
  const jy = t - idiv(t, this.constants.I1) * this.constants.I1;
  t = idiv(t, this.constants.I1);
  const jz = t - idiv(t, this.constants.I0) * this.constants.I0;
  t = idiv(t, this.constants.I0);
  const c = t - idiv(t, this.constants.CIN) * this.constants.CIN;
  const n = idiv(t, this.constants.CIN);
  let s = 0;
  for (let az = 0; az < this.constants.K0; az++) {
    const tz = jz + this.constants.P0 - az * this.constants.D0;
    const oz = idiv(Math.max(tz, 0), this.constants.S0);
    for (let ay = 0; ay < this.constants.K1; ay++) {
      const ty = jy + this.constants.P1 - ay * this.constants.D1;
      const oy = idiv(Math.max(ty, 0), this.constants.S1);
      for (let ax = 0; ax < this.constants.K2; ax++) {
        const tx = jx + this.constants.P2 - ax * this.constants.D2;
        const ox = idiv(Math.max(tx, 0), this.constants.S2);
        if (
          tz >= 0 && oz * this.constants.S0 === tz && oz < this.constants.O0 &&
          ty >= 0 && oy * this.constants.S1 === ty && oy < this.constants.O1 &&
          tx >= 0 && ox * this.constants.S2 === tx && ox < this.constants.O2
        ) {
          for (let o = 0; o < this.constants.COUT; o++) {
            const wi = (((o * this.constants.CIN + c) * this.constants.K0 + az) * this.constants.K1 + ay) * this.constants.K2 + ax;
            const yi = (((n * this.constants.COUT + o) * this.constants.O0 + oz) * this.constants.O1 + oy) * this.constants.O2 + ox;
            s += w[wi] * dy[yi];
          }
        }
      }
    }
  }
  return s + this.constants.ACC * dxPrev[this.thread.x];
}

/**
 * First stage of dw[o,c,a] = Σ_{n,i} dy[n,o,i] · x[n, c, i·s + a·d − p]: one thread per
 * (n, o, c, a) sums over the output positions i; convBackFilterSumK adds over n. Two stages
 * give N times more threads than one, which a GPU needs when Cout·Cin·|kernel| is small.
 * Thread n works on sample first + n (a uniform: convBackFilterSamples' chunks share one kernel).
 */
export function convBackFilterPartialK(this: K, x: number[], dy: number[], first: number): number {
  const ax = this.thread.x - idiv(this.thread.x, this.constants.K2) * this.constants.K2;
  let t = idiv(this.thread.x, this.constants.K2);
  const ay = t - idiv(t, this.constants.K1) * this.constants.K1;
  t = idiv(t, this.constants.K1);
  const az = t - idiv(t, this.constants.K0) * this.constants.K0;
  t = idiv(t, this.constants.K0);
  const c = t - idiv(t, this.constants.CIN) * this.constants.CIN;
  t = idiv(t, this.constants.CIN);
  const o = t - idiv(t, this.constants.COUT) * this.constants.COUT;
  const n = idiv(t, this.constants.COUT) + first;
  let s = 0;
  for (let oz = 0; oz < this.constants.O0; oz++) {
    const iz = oz * this.constants.S0 + az * this.constants.D0 - this.constants.P0;
    for (let oy = 0; oy < this.constants.O1; oy++) {
      const iy = oy * this.constants.S1 + ay * this.constants.D1 - this.constants.P1;
      for (let ox = 0; ox < this.constants.O2; ox++) {
        const ix = ox * this.constants.S2 + ax * this.constants.D2 - this.constants.P2;
        if (iz >= 0 && iz < this.constants.I0 && iy >= 0 && iy < this.constants.I1 && ix >= 0 && ix < this.constants.I2) {
          const xi = (((n * this.constants.CIN + c) * this.constants.I0 + iz) * this.constants.I1 + iy) * this.constants.I2 + ix;
          const yi = (((n * this.constants.COUT + o) * this.constants.O0 + oz) * this.constants.O1 + oy) * this.constants.O2 + ox;
          s += dy[yi] * x[xi];
        }
      }
    }
  }
  return s;
}

/**
 * out[j] = ACC · prev[j] + Σ_{r < ROWS} part[r · COLS + j]: the second stage of every
 * two-stage reduction (convBackFilter over the batch, biasGrad over the batch).
 */
export function sumRowsK(this: K, part: number[], prev: number[]): number {
  let s = 0;
  for (let r = 0; r < this.constants.ROWS; r++) s += part[r * this.constants.COLS + this.thread.x];
  return s + this.constants.ACC * prev[this.thread.x];
}

/** out[p] = Σ_{k < INNER} x[p · INNER + k]: biasGrad's first stage, one thread per (n, c) plane. */
export function sumPlaneK(this: K, x: number[]): number {
  let s = 0;
  for (let k = 0; k < this.constants.INNER; k++) s += x[this.thread.x * this.constants.INNER + k];
  return s;
}

/** y[n,c,…] + b[c]: the channel is the plane index modulo C. */
export function biasAddK(this: K, y: number[], b: number[]): number {
  const p = idiv(this.thread.x, this.constants.INNER);
  return y[this.thread.x] + b[p - idiv(p, this.constants.C) * this.constants.C];
}

/** a[c] · x[n,c,…] + b[c] (channelAffine): the channel is the plane index modulo C, as in biasAddK. */
export function channelAffineK(this: K, x: number[], a: number[], b: number[]): number {
  const p = idiv(this.thread.x, this.constants.INNER);
  const c = p - idiv(p, this.constants.C) * this.constants.C;
  return a[c] * x[this.thread.x] + b[c];
}
