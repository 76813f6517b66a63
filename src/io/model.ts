/**
 * Whole networks in one safetensors file: the state dict (PyTorch names, so
 * `torch.nn.Sequential(...).load_state_dict(safetensors.torch.load_file(f))` reads it) plus the
 * architecture in `__metadata__`, so `loadNetwork(file)` rebuilds the network from the file alone.
 */
import { readFileSync } from 'node:fs';
import type { Network } from '../network/index.js';
import type { Backend } from '../nd/backend.js';
import type { DType } from '../nd/dtype.js';
import { architectureOf, buildArchitecture, readArchitecture } from './architecture.js';
import { writeFileAtomic } from './atomic.js';
import { FormatError } from './errors.js';
import { encodeNpz } from './npy.js';
import { decodeSafetensors, encodeSafetensors, type Safetensors, type TensorToWrite } from './safetensors.js';

/** The `__metadata__` key holding the architecture JSON. */
export const ARCHITECTURE_KEY = 'ndcnn.architecture';

export interface SaveOptions {
  /** Storage type of the parameters (default: the network's). */
  dtype?: DType;
}

export interface LoadOptions {
  /** Backend of the rebuilt network (default: the CPU backend in the saved dtype). */
  backend?: Backend;
}

export function networkToSafetensors(net: Network, o: SaveOptions = {}): Uint8Array {
  const dtype = (o.dtype ?? net.backend.dtype) === 'float64' ? 'F64' : 'F32';
  const integer = new Set(net.namedBuffers().filter((b) => b.integer).map((b) => b.name));
  const tensors: Record<string, TensorToWrite> = {};
  for (const [name, t] of Object.entries(net.stateDict())) tensors[name] = { ...t, dtype: integer.has(name) ? 'I64' : dtype };
  // "format": "pt" tells the Hugging Face tools the layouts are PyTorch's.
  return encodeSafetensors(tensors, { format: 'pt', [ARCHITECTURE_KEY]: JSON.stringify(architectureOf(net)) });
}

/** Writes `net` to `path` atomically (temporary file, fsync, rename). */
export function saveSafetensors(net: Network, path: string, o: SaveOptions = {}): void {
  writeFileAtomic(path, networkToSafetensors(net, o));
}

/** The tensors and metadata of a safetensors file (path or bytes), validated. */
export function readSafetensors(file: string | Uint8Array): Safetensors {
  return typeof file === 'string' ? decodeSafetensors(readFileSync(file), file) : decodeSafetensors(file, 'safetensors bytes');
}

/** Rebuilds a network saved by saveSafetensors from the file (path or bytes) alone. */
export function loadNetwork(file: string | Uint8Array, o: LoadOptions = {}): Network {
  const source = typeof file === 'string' ? file : 'safetensors bytes';
  const { tensors, metadata } = readSafetensors(file);
  const text = metadata[ARCHITECTURE_KEY];
  if (text === undefined) {
    throw new FormatError(
      source,
      `no '${ARCHITECTURE_KEY}' in __metadata__, so the network cannot be rebuilt from the file; build it yourself and call net.loadStateDict(readSafetensors(file).tensors)`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new FormatError(source, `'${ARCHITECTURE_KEY}' is not JSON (${(e as Error).message})`);
  }
  const net = buildArchitecture(readArchitecture(json, source), o.backend);
  try {
    net.loadStateDict(tensors);
  } catch (e) {
    net.dispose();
    throw new FormatError(source, (e as Error).message);
  }
  return net;
}

/** The state dict as a .npz (np.load(f)['0.weight']), float64 or float32 as `o.dtype` says. */
export function networkToNpz(net: Network, o: SaveOptions = {}): Uint8Array {
  const descr = (o.dtype ?? net.backend.dtype) === 'float64' ? '<f8' : '<f4';
  const integer = new Set(net.namedBuffers().filter((b) => b.integer).map((b) => b.name));
  const arrays = Object.fromEntries(Object.entries(net.stateDict()).map(([name, t]) => [name, { ...t, descr: integer.has(name) ? '<i8' : descr } as const]));
  return encodeNpz(arrays);
}

/** Writes the state dict to `path` as a .npz, atomically. */
export function saveNpz(net: Network, path: string, o: SaveOptions = {}): void {
  writeFileAtomic(path, networkToNpz(net, o));
}
