/**
 * gpu.js kernel bodies of max- and average-pooling, under the same rules as kernels.ts (the
 * transpilable subset, constants for loop bounds, flat arrays, `idiv` the only helper). The pool
 * geometry arrives lifted to three axes: input I, window W, stride S, padding P, output O.
 */
import type { IKernelFunctionThis } from 'gpu.js';
import { idiv } from './kernels.js';

type K = IKernelFunctionThis<Record<string, number>>;

/**
 * argmax[n,c,o] = the in-plane offset of the window's largest x; strict '>' keeps the first
 * of equal maxima in row-major order, as the contract and the CPU backend do.
 */
export function argmaxK(this: K, x: number[]): number {
  const ox = this.thread.x - idiv(this.thread.x, this.constants.O2) * this.constants.O2;
  let t = idiv(this.thread.x, this.constants.O2);
  const oy = t - idiv(t, this.constants.O1) * this.constants.O1;
  t = idiv(t, this.constants.O1);
  const oz = t - idiv(t, this.constants.O0) * this.constants.O0;
  const plane = idiv(t, this.constants.O0);
  const base = plane * this.constants.I0 * this.constants.I1 * this.constants.I2;
  let best = 0;
  let at = -1;
  for (let az = 0; az < this.constants.W0; az++) {
    for (let ay = 0; ay < this.constants.W1; ay++) {
      for (let ax = 0; ax < this.constants.W2; ax++) {
        const off =
          ((oz * this.constants.S0 + az) * this.constants.I1 + oy * this.constants.S1 + ay) * this.constants.I2 +
          ox * this.constants.S2 + ax;
        const v = x[base + off];
        if (at < 0 || v > best) {
          best = v;
          at = off;
        }
      }
    }
  }
  return at;
}

/** y[p, o] = x[p, argmax[p, o]] (max-pool forward values and its R-forward). */
export function gatherK(this: K, x: number[], argmax: number[]): number {
  const p = idiv(this.thread.x, this.constants.OUTVOL);
  return x[p * this.constants.INVOL + argmax[this.thread.x]];
}

/**
 * dx[p, j] + Σ dy[p, o] over the windows o that contain j and chose it. Gathered per input
 * element (no scatter on a fragment shader): along each axis only ⌈w/s⌉ windows can hold j,
 * o ∈ (⌊j/s⌋ − ⌈w/s⌉, ⌊j/s⌋], so the loops run over those few candidates (constants R0..R2).
 */
export function scatterAddK(this: K, dxPrev: number[], dy: number[], argmax: number[]): number {
  const jx = this.thread.x - idiv(this.thread.x, this.constants.I2) * this.constants.I2;
  let t = idiv(this.thread.x, this.constants.I2);
  const jy = t - idiv(t, this.constants.I1) * this.constants.I1;
  t = idiv(t, this.constants.I1);
  const jz = t - idiv(t, this.constants.I0) * this.constants.I0;
  const plane = idiv(t, this.constants.I0);
  const off = (jz * this.constants.I1 + jy) * this.constants.I2 + jx;
  let s = dxPrev[this.thread.x];
  for (let rz = 0; rz < this.constants.R0; rz++) {
    const oz = idiv(jz, this.constants.S0) - rz;
    for (let ry = 0; ry < this.constants.R1; ry++) {
      const oy = idiv(jy, this.constants.S1) - ry;
      for (let rx = 0; rx < this.constants.R2; rx++) {
        const ox = idiv(jx, this.constants.S2) - rx;
        if (
          oz >= 0 && oz < this.constants.O0 && jz < oz * this.constants.S0 + this.constants.W0 &&
          oy >= 0 && oy < this.constants.O1 && jy < oy * this.constants.S1 + this.constants.W1 &&
          ox >= 0 && ox < this.constants.O2 && jx < ox * this.constants.S2 + this.constants.W2
        ) {
          const o = ((plane * this.constants.O0 + oz) * this.constants.O1 + oy) * this.constants.O2 + ox;
          if (Math.abs(argmax[o] - off) < 0.5) s += dy[o];
        }
      }
    }
  }
  return s;
}

/**
 * y[p, o] = Σ_{j ∈ W_o} x[p, j] / |W_o|: window o covers o·s − p … o·s − p + w − 1 on each
 * axis, clipped to the input (padding holds zeros); |W_o| is the whole window when COUNTPAD = 1
 * (PyTorch's count_include_pad), else the clipped one.
 */
export function avgPoolK(this: K, x: number[]): number {
  const ox = this.thread.x - idiv(this.thread.x, this.constants.O2) * this.constants.O2;
  let t = idiv(this.thread.x, this.constants.O2);
  const oy = t - idiv(t, this.constants.O1) * this.constants.O1;
  t = idiv(t, this.constants.O1);
  const oz = t - idiv(t, this.constants.O0) * this.constants.O0;
  const plane = idiv(t, this.constants.O0);
  const base = plane * this.constants.I0 * this.constants.I1 * this.constants.I2;
  let s = 0;
  let count = 0;
  for (let az = 0; az < this.constants.W0; az++) {
    const iz = oz * this.constants.S0 - this.constants.P0 + az;
    for (let ay = 0; ay < this.constants.W1; ay++) {
      const iy = oy * this.constants.S1 - this.constants.P1 + ay;
      for (let ax = 0; ax < this.constants.W2; ax++) {
        const ix = ox * this.constants.S2 - this.constants.P2 + ax;
        if (iz >= 0 && iz < this.constants.I0 && iy >= 0 && iy < this.constants.I1 && ix >= 0 && ix < this.constants.I2) {
          s += x[base + (iz * this.constants.I1 + iy) * this.constants.I2 + ix];
          count += 1;
        }
      }
    }
  }
  if (this.constants.COUNTPAD === 1) count = this.constants.W0 * this.constants.W1 * this.constants.W2;
  return s / count;
}

/**
 * dx[p, j] = Σ_{o : j ∈ W_o} dy[p, o] / |W_o|, avgPool's adjoint gathered per input element:
 * along each axis only the R = ⌈w/s⌉ windows o ∈ (⌊(j + p)/s⌋ − R, ⌊(j + p)/s⌋] can hold j.
 */
export function avgPoolBackK(this: K, dy: number[]): number {
  const jx = this.thread.x - idiv(this.thread.x, this.constants.I2) * this.constants.I2;
  let t = idiv(this.thread.x, this.constants.I2);
  const jy = t - idiv(t, this.constants.I1) * this.constants.I1;
  t = idiv(t, this.constants.I1);
  const jz = t - idiv(t, this.constants.I0) * this.constants.I0;
  const plane = idiv(t, this.constants.I0);
  let s = 0;
  for (let rz = 0; rz < this.constants.R0; rz++) {
    const oz = idiv(jz + this.constants.P0, this.constants.S0) - rz;
    const z0 = oz * this.constants.S0 - this.constants.P0;
    const nz = Math.min(z0 + this.constants.W0, this.constants.I0) - Math.max(z0, 0);
    for (let ry = 0; ry < this.constants.R1; ry++) {
      const oy = idiv(jy + this.constants.P1, this.constants.S1) - ry;
      const y0 = oy * this.constants.S1 - this.constants.P1;
      const ny = Math.min(y0 + this.constants.W1, this.constants.I1) - Math.max(y0, 0);
      for (let rx = 0; rx < this.constants.R2; rx++) {
        const ox = idiv(jx + this.constants.P2, this.constants.S2) - rx;
        const x0 = ox * this.constants.S2 - this.constants.P2;
        const nx = Math.min(x0 + this.constants.W2, this.constants.I2) - Math.max(x0, 0);
        if (
          oz >= 0 && oz < this.constants.O0 && jz < z0 + this.constants.W0 &&
          oy >= 0 && oy < this.constants.O1 && jy < y0 + this.constants.W1 &&
          ox >= 0 && ox < this.constants.O2 && jx < x0 + this.constants.W2
        ) {
          let count = nz * ny * nx;
          if (this.constants.COUNTPAD === 1) count = this.constants.W0 * this.constants.W1 * this.constants.W2;
          s += dy[((plane * this.constants.O0 + oz) * this.constants.O1 + oy) * this.constants.O2 + ox] / count;
        }
      }
    }
  }
  return s;
}
