/**
 * A tiny-budget run of every experiment through the real training loop (HF runs the loop in
 * resume.test.ts): the run directory has
 * its config, metrics, plot, checkpoint and summary, the numbers are sane, `eval` of the run
 * reproduces its final held-out accuracy, and training made progress. Also the shift
 * augmentation's geometry, and (when it is registered) the GPU backend on the same loop.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { shiftInto } from '../../experiments/augment.js';
import { evalRun } from '../../experiments/commands.js';
import { readMetrics, type EpochMetrics, type StepMetrics } from '../../experiments/metrics.js';
import type { TrainFlags } from '../../experiments/resolve.js';
import { train, type Io } from '../../experiments/train.js';
import { backends } from '../../src/nd/backends/index.js';
import { FIXTURE_DATA } from '../data.js';

const tmp = mkdtempSync(join(tmpdir(), 'ndcnn-smoke-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const quiet: Io = { out: () => {}, err: () => {}, tty: false };

// The data sets on disk come from the committed excerpts (test/fixtures/data), through --data-dir.
const RUNS: [string, TrainFlags][] = [
  ['image2d mnist sgd', { experiment: 'image2d', maxTrain: 256, maxTest: 100, epochs: 2 }],
  ['image2d fashion-mnist sgd', { experiment: 'image2d', dataset: 'fashion-mnist', dataDir: FIXTURE_DATA, maxTrain: 256, maxTest: 100, epochs: 2 }],
  // Batches of 8: the excerpt's 40 training recordings then make 5 steps an epoch, not 2.
  ['audio1d speakers sgd', { experiment: 'audio1d', split: 'speakers', dataDir: FIXTURE_DATA, maxTrain: 128, maxTest: 64, epochs: 2, batchSize: 8 }],
  ['mri3d sgd', { experiment: 'mri3d', dataDir: FIXTURE_DATA, maxTrain: 256, maxTest: 100, epochs: 2, patchSize: 12 }],
];

describe.each(RUNS)('smoke: %s', (name, flags) => {
  it('writes a complete run directory and makes progress', async () => {
    const out = join(tmp, name.replace(/ /g, '-'));
    let printed = '';
    const summary = await train({ ...flags, out }, { ...quiet, out: (s) => (printed += s) });
    for (const f of ['config.json', 'metrics.jsonl', 'plot.svg', 'checkpoint.ckpt', 'summary.json']) expect(existsSync(join(out, f)), f).toBe(true);
    expect(JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).experiment).toBe(flags.experiment);
    expect(readFileSync(join(out, 'plot.svg'), 'utf8')).toMatch(/^<svg [^>]*>[\s\S]*<polyline[\s\S]*<\/svg>\n$/);

    const lines = readMetrics(join(out, 'metrics.jsonl'));
    const steps = lines.filter((l): l is StepMetrics => l.kind === 'step');
    const epochs = lines.filter((l): l is EpochMetrics => l.kind === 'epoch');
    expect(epochs.map((e) => e.epoch)).toEqual([1, 2]);
    expect(steps.map((s) => s.step)).toEqual(steps.map((_, i) => i + 1));
    expect(summary.steps).toBe(steps.length);
    for (const s of steps) expect(Number.isFinite(s.loss)).toBe(true);
    // Progress: the second epoch's mean batch loss is below the first batch's loss at the
    // initial weights (ln 10 ≈ 2.3 for ten balanced classes); this fails if nothing learns.
    expect(epochs[1].trainLoss).toBeLessThan(steps[0].loss);

    const [testName, t] = Object.entries(summary.test)[0];
    expect(t.accuracy).toBeGreaterThanOrEqual(0);
    expect(t.accuracy).toBeLessThanOrEqual(1);
    expect(printed).toContain(`${testName} accuracy`);
    let evaluated = '';
    await evalRun({ path: out }, { ...quiet, out: (s) => (evaluated += s) });
    // Same weights, same data, same backend: eval recomputes the final epoch's numbers exactly.
    expect(evaluated).toContain(`${testName}: accuracy ${(100 * t.accuracy).toFixed(2)}%`);
  });
});

describe('the GPU backend on the training loop', () => {
  it('trains image2d for an epoch and agrees with the CPU on the first batch loss', async () => {
    const flags: TrainFlags = { experiment: 'image2d', maxTrain: 64, maxTest: 32, epochs: 1, batchSize: 16 };
    await train({ ...flags, out: join(tmp, 'gpu'), backend: 'gpu' }, quiet);
    await train({ ...flags, out: join(tmp, 'cpu') }, quiet);
    const first = (dir: string) => (readMetrics(join(dir, 'metrics.jsonl'))[0] as StepMetrics).loss;
    // Both start from the same float32 weights and batch; float32 sums in different orders
    // differ by ~1e-6 relative per layer, far below 1e-3 of a loss near ln 10.
    expect(Math.abs(first(join(tmp, 'gpu')) - first(join(tmp, 'cpu')))).toBeLessThan(1e-3);
  });
});

describe('shift augmentation geometry', () => {
  /** Reference: x'[c, i, j, k] = x[c, i − d₁, j − d₂, k − d₃] or 0, by explicit index arithmetic. */
  it.each([
    [[2, 5], [2]],
    [[1, 4, 6], [-1, 2]],
    [[2, 3, 4, 5], [1, -2, 3]],
    [[1, 3, 3], [3, 0]],
  ])('shape %j shifted by %j matches the index formula', (shape, d) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const src = Float32Array.from({ length: size }, (_, i) => i + 1);
    const dst = new Float32Array(size).fill(NaN);
    shiftInto(dst, src, shape, d);
    const spatial = shape.slice(1);
    for (let flat = 0; flat < size; flat++) {
      const idx: number[] = [];
      for (let a = shape.length - 1, r = flat; a >= 0; a--) {
        idx[a] = r % shape[a];
        r = Math.floor(r / shape[a]);
      }
      const from = idx.map((v, a) => (a === 0 ? v : v - d[a - 1]));
      const inside = from.every((v, a) => a === 0 || (v >= 0 && v < spatial[a - 1]));
      const expected = inside ? src[from.reduce((acc, v, a) => acc * shape[a] + v, 0)] : 0;
      expect(dst[flat]).toBe(expected);
    }
  });
});
