/** Backends by name, so the API and every command line choose one with a single flag. */
import type { Backend } from '../backend';
import type { DType } from '../dtype';
import { cpuBackend } from './cpu';

export interface BackendOptions {
  /** CPU only: float64 for derivation checks, float32 (default) for training. */
  dtype?: DType;
}

export const backends = {
  cpu: (o: BackendOptions = {}): Backend => cpuBackend(o.dtype ?? 'float32'),
} satisfies Record<string, (o?: BackendOptions) => Backend>;

export type BackendName = keyof typeof backends;

export function createBackend(name: string, o: BackendOptions = {}): Backend {
  if (!Object.prototype.hasOwnProperty.call(backends, name)) {
    throw new Error(`unknown backend '${name}' (known: ${Object.keys(backends).join(', ')})`);
  }
  return backends[name as BackendName](o);
}
