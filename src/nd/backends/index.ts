/** Backends by name, so the API and every command line choose one with a single flag. */
import type { Backend } from '../backend.js';
import type { DType } from '../dtype.js';
import { cpuBackend } from './cpu/index.js';
import { chooseGemm } from './cpu/gemm-select.js';
import { gpuBackend, type GpuMode } from './gpu/index.js';
import { webgpuBackend } from './webgpu/open.js';

export interface BackendOptions {
  /** CPU only: float64 for derivation checks, float32 (default) for training. GPU is float32. */
  dtype?: DType;
  /** CPU only: the GEMM to start from (openblas, wasm, js; default: $NDCNN_GEMM, else the fastest). */
  gemm?: string;
  /** GPU only: the gpu.js mode to demand (default: $NDCNN_GPU_MODE, else the best available). */
  mode?: GpuMode;
  /** GPU only: run another mode, with a warning, when the demanded one cannot run. */
  allowFallback?: boolean;
}

export const backends = {
  cpu: (o: BackendOptions = {}): Backend =>
    cpuBackend(o.dtype ?? 'float32', o.gemm === undefined ? undefined : chooseGemm(o.gemm)),
  gpu: (o: BackendOptions = {}): Backend => {
    if (o.dtype === 'float64') throw new Error('gpu backend: float64 is not supported (gpu.js computes in float32)');
    return gpuBackend({ mode: o.mode, allowFallback: o.allowFallback });
  },
  webgpu: (): Backend => {
    throw new Error("webgpu backend: its adapter and device open asynchronously; use await openBackend('webgpu')");
  },
} satisfies Record<string, (o?: BackendOptions) => Backend>;

export type BackendName = keyof typeof backends;

/** Backends whose device opens asynchronously (WebGPU asks for an adapter, then a device). */
const asyncBackends: Partial<Record<BackendName, (o: BackendOptions) => Promise<Backend>>> = {
  webgpu: (o) => {
    if (o.dtype === 'float64') throw new Error('webgpu backend: float64 is not supported (WGSL has no float64)');
    return webgpuBackend();
  },
};

/** createBackend for every backend, the asynchronously opened ones (webgpu) included. */
export async function openBackend(name: string, o: BackendOptions = {}): Promise<Backend> {
  const open = Object.prototype.hasOwnProperty.call(asyncBackends, name) ? asyncBackends[name as BackendName] : undefined;
  return open ? open(o) : createBackend(name, o);
}

export function createBackend(name: string, o: BackendOptions = {}): Backend {
  if (!Object.prototype.hasOwnProperty.call(backends, name)) {
    throw new Error(`unknown backend '${name}' (known: ${Object.keys(backends).join(', ')})`);
  }
  return backends[name as BackendName](o);
}
