/**
 * `ndcnn train --backend webgpu` on each experiment, through the CLI's own train() in process:
 * image2d, audio1d and mri3d take their first steps on WebGPU from the same weights and batches
 * as on the CPU (losses equal to float32 rounding), and an interrupted WebGPU run resumes to the
 * uninterrupted run's metrics byte for byte (checkpoints, the optimizer's state and the batch
 * order all round-trip). Budgets are a step or two of a few samples: SwiftShader takes seconds
 * for one pass of these networks. HF, Lanczos (--track-sharpness, `ndcnn hessian`) and the
 * other analyses run on the same async passes, checked against the CPU in network.test.ts.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readMetrics, type StepMetrics } from '../../experiments/metrics.js';
import type { TrainFlags } from '../../experiments/resolve.js';
import { train, type Io } from '../../experiments/train.js';
import { FIXTURE_DATA } from '../data.js';
import { skipWebgpu, webgpuTitle } from './webgpu-env.js';

const tmp = mkdtempSync(join(tmpdir(), 'ndcnn-webgpu-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const quiet: Io = { out: () => {}, err: () => {}, tty: false };
/** As test/webgpu/network.test.ts: float32 sums in other orders, a few ε32 per pass. */
const TOL = 2e-5;

const losses = (dir: string) => readMetrics(join(dir, 'metrics.jsonl')).filter((l): l is StepMetrics => l.kind === 'step').map((s) => s.loss);

describe.skipIf(skipWebgpu)(webgpuTitle('the experiments on --backend webgpu'), () => {
  it.each([
    ['image2d', { experiment: 'image2d', maxTrain: 4, maxTest: 2, batchSize: 2 }],
    ['audio1d', { experiment: 'audio1d', split: 'speakers', dataDir: FIXTURE_DATA, maxTrain: 2, maxTest: 2, batchSize: 2 }],
  ] as [string, TrainFlags][])('%s trains on WebGPU and its losses are the CPU run\'s to float32 rounding', async (name, flags) => {
    const run = { ...flags, epochs: 1, threads: 1 };
    const [gpu, cpu] = [join(tmp, `${name}-webgpu`), join(tmp, `${name}-cpu`)];
    const summary = await train({ ...run, backend: 'webgpu', out: gpu }, quiet);
    expect(summary.compute).toMatch(/^webgpu on /);
    await train({ ...run, out: cpu }, quiet);
    const [lg, lc] = [losses(gpu), losses(cpu)];
    expect(lg.length).toBe(lc.length);
    expect(lg.length).toBeGreaterThan(0);
    // The first loss is the same weights on the same batch; later ones follow one update each.
    for (let s = 0; s < lc.length; s++) expect(Math.abs(lg[s] - lc[s]) / lc[s], `step ${s + 1}`).toBeLessThan(10 * TOL);
  });

  it('mri3d: a WebGPU run stopped after an epoch and resumed writes the uninterrupted run\'s metrics, byte for byte', async () => {
    const flags: TrainFlags = { experiment: 'mri3d', dataDir: FIXTURE_DATA, patchSize: 12, maxTrain: 2, maxTest: 2, batchSize: 2, epochs: 2, backend: 'webgpu', optimizer: 'adam' };
    const [whole, parts] = [join(tmp, 'mri-whole'), join(tmp, 'mri-parts')];
    await train({ ...flags, out: whole }, quiet);
    const first = await train({ ...flags, out: parts, stopAfter: 1 }, quiet);
    expect(first.stopped).toBe(true);
    await train({ resume: parts }, quiet);
    const metrics = (dir: string) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8');
    expect(losses(whole)).toHaveLength(2);
    expect(metrics(parts)).toBe(metrics(whole));
  });
});
