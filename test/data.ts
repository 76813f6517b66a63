/**
 * Where tests find data. The default suite reads only FIXTURE_DATA: small excerpts of the real
 * sets committed in test/fixtures/data (see its README). The `*.data.test.ts` files need the full
 * sets and look for them where the CLI does (resolveDataDir: $NDCNN_DATA, ../shared/data, the
 * fetch cache); a set found nowhere turns the file's tests into one skipped test whose name says
 * which set is missing, where it was looked for and how to get it.
 */
import { fileURLToPath } from 'node:url';
import { describe, it } from 'vitest';
import { resolveDataDir, type DatasetName } from '../datasets/paths.js';

export const FIXTURE_DATA = fileURLToPath(new URL('./fixtures/data', import.meta.url));

/** `describe(title, body(root))` when the full set `name` is found, else one skipped test saying why. */
export function describeWithData(name: DatasetName, title: string, body: (root: string) => void): void {
  let root: string;
  try {
    root = resolveDataDir(name);
  } catch (e) {
    const why = `skipped, full ${name} data set not available (set NDCNN_DATA=DIR holding ${name}/): ${(e as Error).message}`;
    console.warn(`${title}: ${why}`);
    describe(title, () => it.skip(why, () => {}));
    return;
  }
  describe(`${title} (${name} from ${root})`, () => body(root));
}
