/**
 * mri3d's position channels: on by default, recorded in the run config, and a run config from
 * before them (no `coords` in its data settings) still loads the single-channel patches its
 * network was trained on, so old runs evaluate as they did.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { evalRun } from '../../experiments/commands.js';
import type { DataRequest } from '../../experiments/experiment.js';
import { mri3d } from '../../experiments/mri3d.js';
import { train, type Io } from '../../experiments/train.js';
import { FIXTURE_DATA } from '../data.js';

const tmp = mkdtempSync(join(tmpdir(), 'ndcnn-mri3d-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const quiet: Io = { out: () => {}, err: () => {}, tty: false };
const req = (data: Record<string, number>): DataRequest => ({ dataset: 'mri', split: 'blocks', splitSeed: 1, dataDir: FIXTURE_DATA, data });

describe('mri3d position channels', () => {
  it('are on by default, and a config without them loads the same patches with only the T1 channel', () => {
    expect(mri3d.dataDefaults.coords).toBe(1);
    const now = mri3d.load(req({ ...mri3d.dataDefaults, patchSize: 12 })).train;
    const before = mri3d.load(req({ patchSize: 12 })).train;
    const n = before.labels.length;
    expect(n).toBeGreaterThan(0);
    expect(before.shape).toEqual([n, 1, 12, 12, 12]);
    expect(now.shape).toEqual([n, 4, 12, 12, 12]);
    expect(now.labels).toEqual(before.labels);
    const per = 12 ** 3;
    for (let p = 0; p < n; p++) {
      expect(Array.from(now.inputs.subarray(4 * p * per, (4 * p + 1) * per))).toEqual(Array.from(before.inputs.subarray(p * per, (p + 1) * per)));
    }
  });

  it('are recorded in the run config; a run from before them still evaluates to its own accuracy', async () => {
    const flags = { experiment: 'mri3d', dataDir: FIXTURE_DATA, maxTrain: 64, maxTest: 40, epochs: 1, batchSize: 16, patchSize: 12, threads: 1 };
    const run = async (out: string) => {
      const summary = await train({ ...flags, out }, quiet);
      return { config: JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')), accuracy: summary.test['held-out blocks'].accuracy };
    };
    const evaluated = async (out: string) => {
      let s = '';
      await evalRun({ path: out }, { ...quiet, out: (t) => (s += t) });
      return s;
    };
    const now = await run(join(tmp, 'now'));
    expect(now.config.data).toEqual({ patchSize: 12, coords: 1 });
    expect(now.config.inShape).toEqual([4, 12, 12, 12]);

    // A run as the experiment made them before position channels: its config has no `coords`.
    const writable = mri3d as { dataDefaults: Record<string, number> };
    const defaults = writable.dataDefaults;
    writable.dataDefaults = { patchSize: 12 };
    let old;
    try {
      old = await run(join(tmp, 'old'));
    } finally {
      writable.dataDefaults = defaults;
    }
    expect(old.config.data).toEqual({ patchSize: 12 });
    expect(old.config.inShape).toEqual([1, 12, 12, 12]);
    // Under today's defaults eval rebuilds each run's own network and data: same weights, same
    // patches, so the final epoch's accuracy exactly.
    for (const [out, r] of [['now', now], ['old', old]] as const) {
      expect(await evaluated(join(tmp, out))).toContain(`held-out blocks: accuracy ${(100 * r.accuracy).toFixed(2)}%`);
    }
  });
});
