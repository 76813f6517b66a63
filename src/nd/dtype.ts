/** Element types. float64 is what derivation checks run in; float32 is what training runs in. */
export type DType = 'float32' | 'float64';
export type FloatArray = Float32Array | Float64Array;

export function allocate(dtype: DType, length: number): FloatArray {
  return dtype === 'float64' ? new Float64Array(length) : new Float32Array(length);
}

export function dtypeOf(a: FloatArray): DType {
  return a instanceof Float64Array ? 'float64' : 'float32';
}

/**
 * Memory that threads can share: a SharedArrayBuffer where the platform has one (a browser page
 * has it only when cross-origin isolated), else an ordinary ArrayBuffer.
 */
export function sharedMemory(bytes: number): ArrayBuffer {
  return (typeof SharedArrayBuffer === 'function' ? new SharedArrayBuffer(bytes) : new ArrayBuffer(bytes)) as ArrayBuffer;
}

/** allocate() in sharedMemory(). */
export function allocateShared(dtype: DType, length: number): FloatArray {
  return dtype === 'float64' ? new Float64Array(sharedMemory(length * 8)) : new Float32Array(sharedMemory(length * 4));
}
