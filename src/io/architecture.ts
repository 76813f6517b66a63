/**
 * A network's architecture as plain JSON: one sample's input shape, the layer specs (already
 * plain data; the registry builds them), the loss and the dtype. With a state dict it rebuilds
 * the network from data alone; safetensors and ONNX files carry it in their metadata.
 */
import type { LayerSpec, LossName } from '../layers/index.js';
import { losses, type NetworkLimits } from '../layers/index.js';
import { Network } from '../network/index.js';
import type { Backend } from '../nd/backend.js';
import { cpuBackend } from '../nd/backends/cpu/index.js';
import type { DType } from '../nd/dtype.js';
import { FormatError } from './errors.js';

export const ARCHITECTURE_FORMAT = 'ndcnn-network';
export const ARCHITECTURE_VERSION = 1;

export interface Architecture {
  format: typeof ARCHITECTURE_FORMAT;
  version: number;
  inShape: number[];
  layers: LayerSpec[];
  loss: LossName;
  dtype: DType;
}

export function architectureOf(net: Network): Architecture {
  return {
    format: ARCHITECTURE_FORMAT,
    version: ARCHITECTURE_VERSION,
    inShape: [...net.inShape],
    layers: structuredClone(net.specs) as LayerSpec[],
    loss: net.lossFn.name,
    dtype: net.backend.dtype,
  };
}

/** Checks the structure of `value` (layer options themselves are checked by the layers when built). */
export function readArchitecture(value: unknown, source: string): Architecture {
  const fail = (problem: string) => new FormatError(source, `architecture: ${problem}`);
  const a = value as Partial<Architecture> | null;
  if (!a || typeof a !== 'object' || a.format !== ARCHITECTURE_FORMAT) throw fail(`not an ${ARCHITECTURE_FORMAT} description`);
  if (a.version !== ARCHITECTURE_VERSION) throw fail(`version ${a.version}; this ndcnn reads version ${ARCHITECTURE_VERSION}`);
  if (!Array.isArray(a.inShape) || !a.inShape.every((d) => Number.isInteger(d) && d > 0)) throw fail(`inShape should be positive integers, got ${JSON.stringify(a.inShape)}`);
  if (!Array.isArray(a.layers) || !a.layers.every((l) => l && typeof l === 'object' && typeof l.kind === 'string')) {
    throw fail('layers should be a list of {kind, ...} specs');
  }
  if (typeof a.loss !== 'string' || !Object.prototype.hasOwnProperty.call(losses, a.loss)) throw fail(`unknown loss ${JSON.stringify(a.loss)} (known: ${Object.keys(losses).join(', ')})`);
  if (a.dtype !== 'float32' && a.dtype !== 'float64') throw fail(`dtype should be float32 or float64, got ${JSON.stringify(a.dtype)}`);
  return a as Architecture;
}

/** A fresh network of architecture `a` on `backend` (default: the CPU backend in the architecture's dtype), under `limits`. */
export function buildArchitecture(a: Architecture, backend?: Backend, limits?: Partial<NetworkLimits>): Network {
  return new Network(backend ?? cpuBackend(a.dtype), a.inShape, a.layers, { loss: a.loss, limits });
}
