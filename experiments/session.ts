/**
 * What `train` and `eval` share: loading an experiment's data as a config describes it, and
 * building the backend and network the config names.
 */
import type { Backend } from '../src/nd/backend.js';
import { openBackend as openNamed } from '../src/nd/backends/index.js';
import { GPU_MODES, type GpuMode } from '../src/nd/backends/gpu/index.js';
import { Network } from '../src/network/index.js';
import type { RunConfig } from './config.js';
import { DataError, type LabeledSet } from '../datasets/index.js';
import { UsageError } from './errors.js';
import { limit, type Experiment, type PreparedData } from './experiment.js';
import { experiments } from './registry.js';

export function findExperiment(name: string): Experiment {
  const e = Object.prototype.hasOwnProperty.call(experiments, name) ? experiments[name] : undefined;
  if (!e) throw new UsageError(`unknown experiment '${name}' (known: ${Object.keys(experiments).join(', ')})`);
  return e;
}

/** The experiment's data for `config`, cut to maxTrain/maxTest when those are set. */
export function loadData(config: RunConfig): PreparedData {
  const data = findExperiment(config.experiment).load({
    dataset: config.dataset,
    split: config.split,
    splitSeed: config.splitSeed,
    dataDir: config.dataDir ?? undefined,
    data: config.data,
  });
  // Distinct seeds for the two cuts, so the test subset does not mirror the training one.
  const tests = Object.fromEntries(Object.entries(data.tests).map(([k, v]) => [k, limit(v, config.maxTest, config.splitSeed + 2)]));
  // An empty set would train on nothing or score 0/0 = NaN %: refuse it with what was loaded.
  for (const [name, set] of [['training set', data.train], ...Object.entries(tests).map(([k, v]) => [`${k} set`, v] as const)] as const) {
    if (set.labels.length === 0) throw new DataError(config.dataset, `the ${name} is empty (${data.summary})`);
  }
  const cut = (set: LabeledSet) => limit(set, config.maxTrain, config.splitSeed + 1);
  const source = data.source && { ...data.source, train: cut(data.source.train) };
  return { ...data, train: cut(data.train), tests, ...(source ? { source } : {}) };
}

/** The command line's backend choices besides its name. */
export interface BackendFlags {
  gpuMode?: string;
  allowFallback?: boolean;
}

/**
 * The backend by name from the backend registry (so a newly registered backend just works),
 * opened before any data is read so a wrong name or an unavailable GPU mode fails at once.
 * Training runs in float32, the CPU backend's fast type and the GPU's only one.
 */
export async function openBackend(name: string, f: BackendFlags = {}): Promise<Backend> {
  for (const [flag, value] of [['gpu-mode', f.gpuMode], ['allow-fallback', f.allowFallback]] as const) {
    if (value !== undefined && name !== 'gpu') throw new UsageError(`--${flag} applies to --backend gpu, not ${name}`);
  }
  if (f.gpuMode !== undefined && !(GPU_MODES as readonly string[]).includes(f.gpuMode)) {
    throw new UsageError(`--gpu-mode ${f.gpuMode}: unknown (known: ${GPU_MODES.join(', ')})`);
  }
  try {
    return await openNamed(name, { dtype: 'float32', mode: f.gpuMode as GpuMode | undefined, allowFallback: f.allowFallback });
  } catch (e) {
    throw new UsageError(`--backend ${name}: ${(e as Error).message.split('\n')[0]}`);
  }
}

/** The config's network on `backend`. */
export function buildNetwork(config: RunConfig, backend: Backend): Network {
  const threads = backend.name === 'cpu' ? config.threads ?? 1 : 1;
  return new Network(backend, config.inShape, config.network, { loss: config.loss, seed: config.seed, threads });
}
