/**
 * Whole networks in one safetensors file: the state dict (PyTorch names, so
 * `torch.nn.Sequential(...).load_state_dict(safetensors.torch.load_file(f))` reads it) plus the
 * architecture in `__metadata__`, so `loadNetwork(file)` rebuilds the network from the file alone.
 */
import { readFileSync } from 'node:fs';
import { DEFAULT_LIMITS, LimitError, MAX_NESTING, type NetworkLimits } from '../layers/index.js';
import type { Network } from '../network/index.js';
import type { Backend } from '../nd/backend.js';
import type { DType } from '../nd/dtype.js';
import { architectureOf, buildArchitecture, readArchitecture } from './architecture.js';
import { writeFileAtomic } from './atomic.js';
import { FormatError } from './errors.js';
import { parseJson } from './json.js';
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
  /** Size limits of the network (NetworkOptions.limits); its parameters are also bounded by the values the file holds. */
  limits?: Partial<NetworkLimits>;
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
  const fail = (problem: string) => new FormatError(source, `'${ARCHITECTURE_KEY}': ${problem}`);
  // A residual level is two JSON levels (its spec and its body), plus a few for the rest.
  const json = parseJson(text, 2 * MAX_NESTING + 8, fail);
  const stored = Object.values(tensors).reduce((n, t) => n + t.data.length, 0);
  return buildFromFile(source, stored, o.limits, (limits) => buildArchitecture(readArchitecture(json, source), o.backend, limits), (net) => net.loadStateDict(tensors));
}

/** Parameters any file may claim beyond the values it holds, so that a small network with missing tensors is reported as such. */
const FILE_SLACK = 2 ** 20;

/**
 * Builds a network a file describes and loads its values, every error naming the file. The
 * parameters must all come from the file, so its `stored` values bound them (with FILE_SLACK)
 * before anything of the network's size is allocated: a small file cannot make the reader
 * allocate a huge network.
 */
export function buildFromFile(source: string, stored: number, limits: Partial<NetworkLimits> | undefined, build: (limits: Partial<NetworkLimits>) => Network, load: (net: Network) => void): Network {
  const limit = limits?.parameters ?? DEFAULT_LIMITS.parameters;
  const bound = Math.min(limit, Math.max(stored, FILE_SLACK));
  let net: Network;
  try {
    net = build({ ...limits, parameters: bound });
  } catch (e) {
    if (e instanceof FormatError) throw e;
    if (e instanceof LimitError && e.limit === 'parameters' && e.bound < limit) {
      throw new FormatError(source, `architecture: ${e.message.replace(/, more than the limit.*/, '')}, but the file holds only ${stored} tensor values`);
    }
    throw new FormatError(source, `architecture: ${(e as Error).message}`);
  }
  try {
    load(net);
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
