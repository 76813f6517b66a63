// The few ndarray-ops kernels we use (the package ships no types).
declare module 'ndarray-ops' {
  import type { NdArray } from 'ndarray';
  export function mul(out: NdArray, a: NdArray, b: NdArray): NdArray;
  export function muls(out: NdArray, a: NdArray, s: number): NdArray;
  export function assign(out: NdArray, a: NdArray): NdArray;
  export function assigns(out: NdArray, s: number): NdArray;
}
