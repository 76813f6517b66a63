/**
 * What `train` and `eval` share: loading an experiment's data as a config describes it, and
 * building the backend and network the config names.
 */
import { createBackend } from '../src/nd/backends/index.js';
import { Network } from '../src/layers/index.js';
import type { RunConfig } from './config.js';
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
  return { ...data, train: limit(data.train, config.maxTrain, config.splitSeed + 1), tests };
}

/**
 * The backend by name from the backend registry (so a newly registered backend just works);
 * training runs in float32, the CPU backend's fast type and the GPU's only one.
 */
export function buildNetwork(config: RunConfig): Network {
  let backend;
  try {
    backend = createBackend(config.backend, { dtype: 'float32' });
  } catch (e) {
    throw new UsageError(`--backend ${config.backend}: ${(e as Error).message.split('\n')[0]}`);
  }
  return new Network(backend, config.inShape, config.network, { loss: config.loss, seed: config.seed });
}
