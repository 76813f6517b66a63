/**
 * `ndcnn hessian` on a real (tiny) run made by `ndcnn train`: the files it writes, the
 * consistency of what they say, and one-line errors for bad input. The analysis itself runs in
 * a child process (the real executable), so a slow shared machine never stalls the test worker.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { main } from '../../experiments/cli.js';
import { train, type Io } from '../../experiments/train.js';

const tmp = mkdtempSync(join(tmpdir(), 'ndcnn-hessian-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const quiet: Io = { out: () => {}, err: () => {}, tty: false };
const run = join(tmp, 'run');
const ROOT = resolve(__dirname, '..', '..');

function spawnCli(...args: string[]): Promise<{ status: number | null; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'experiments', 'cli.ts'), ...args], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  return new Promise((done, fail) => {
    child.on('error', fail);
    child.on('close', (status) => done({ status, stderr }));
  });
}

async function cli(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const status = await main(args, { out: (t) => (stdout += t), err: (t) => (stderr += t), tty: false });
  return { status, stdout, stderr };
}

beforeAll(async () => {
  await train({ experiment: 'image2d', maxTrain: 32, maxTest: 16, batchSize: 16, epochs: 1, seed: 3, out: run }, quiet);
}, 120_000);

describe('ndcnn hessian', () => {
  it('writes JSON and plots; G per layer obeys Cauchy interlacing; the density integrates to 1', async () => {
    const out = join(tmp, 'gn');
    const r = await spawnCli('hessian', run, '--operator', 'gauss-newton', '--top', '2', '--trace', '--trace-se', '0.3', '--density', '--probes', '2', '--samples', '12', '--batch-size', '5', '--out', out);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('ndcnn:'))).toEqual([]);
    expect(r.status).toBe(0);
    for (const f of ['hessian.json', 'layers.svg', 'density.svg']) expect(existsSync(join(out, f))).toBe(true);
    const j = JSON.parse(readFileSync(join(out, 'hessian.json'), 'utf8'));
    expect(j).toMatchObject({ operator: 'gauss-newton', samples: 12, batchSize: 5 });
    expect(j.top.values).toHaveLength(2);
    expect(j.top.values[0]).toBeGreaterThanOrEqual(j.top.values[1]);
    expect(j.trace.stdError).toBeLessThanOrEqual(0.3 * j.trace.trace);
    // G is PSD, so a diagonal block's largest eigenvalue is at most the whole matrix's (Cauchy
    // interlacing); 1e-3 relative covers the float32 products and the 1e-4 residual tolerance.
    expect(j.layers.length).toBeGreaterThan(1);
    for (const l of j.layers) expect(l.top.values[0]).toBeLessThanOrEqual(j.top.values[0] * (1 + 1e-3));
    // And the layers' traces add up to the whole trace (the diagonal is shared), within their errors.
    const sum = j.layers.reduce((s: number, l: { trace: { trace: number } }) => s + l.trace.trace, 0);
    const se = Math.hypot(j.trace.stdError, ...j.layers.map((l: { trace: { stdError: number } }) => l.trace.stdError));
    expect(Math.abs(sum - j.trace.trace)).toBeLessThan(4 * se);
    let integral = 0;
    for (let i = 1; i < j.density.grid.length; i++) integral += 0.5 * (j.density.density[i] + j.density.density[i - 1]) * (j.density.grid[i] - j.density.grid[i - 1]);
    expect(integral).toBeCloseTo(1, 4);
    expect(readFileSync(join(out, 'density.svg'), 'utf8')).toMatch(/^<svg/);
  }, 300_000);

  it('--operator ef --diagonal --variance in evaluation mode: tr E = mean ‖∇ℓ_n‖², and the vectors as .npy; --operator ggn with a Hutch++ trace of its diagonal\'s sum', async () => {
    const out = join(tmp, 'ef');
    const r = await spawnCli('hessian', run, '--operator', 'ef', '--mode', 'eval', '--diagonal', '--variance', '--samples', '12', '--batch-size', '5', '--out', out);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('ndcnn:'))).toEqual([]);
    expect(r.status).toBe(0);
    const j = JSON.parse(readFileSync(join(out, 'hessian.json'), 'utf8'));
    expect(j).toMatchObject({ operator: 'empirical-fisher', mode: 'eval', diagonal: { method: 'exact' } });
    // E = (1/N) Σ ∇ℓ_n ∇ℓ_nᵀ: its trace is the mean squared per-sample gradient norm (float32 sums: 1e-4).
    expect(Math.abs(j.diagonal.sum - j.variance.meanSampleNorm2)).toBeLessThan(1e-4 * j.diagonal.sum);
    const layerSum = j.diagonal.layers.reduce((a: number, l: { sum: number }) => a + l.sum, 0);
    expect(Math.abs(layerSum - j.diagonal.sum)).toBeLessThan(1e-9 * j.diagonal.sum);
    // mean ‖∇ℓ_n‖² = ‖∇L‖² + tr Cov(∇ℓ_n) (the population covariance, as the variance is).
    expect(Math.abs(j.variance.gradientNorm2 + j.variance.covarianceTrace - j.variance.meanSampleNorm2)).toBeLessThan(1e-4 * j.variance.meanSampleNorm2);
    const npy = readFileSync(join(out, 'diagonal.npy'));
    expect(npy.subarray(1, 6).toString()).toBe('NUMPY');
    expect(existsSync(join(out, 'variance.npy'))).toBe(true);

    const ggn = join(tmp, 'ggn');
    const g = await spawnCli('hessian', run, '--operator', 'ggn', '--diagonal', '--trace', '--trace-method', 'hutch++', '--trace-products', '30', '--samples', '12', '--batch-size', '12', '--out', ggn);
    expect(g.status).toBe(0);
    const k = JSON.parse(readFileSync(join(ggn, 'hessian.json'), 'utf8'));
    expect(k.trace.method).toBe('hutch++');
    expect(Math.abs(k.trace.trace - k.diagonal.sum)).toBeLessThan(4 * k.trace.stdError + 1e-4 * k.diagonal.sum);
    }, 300_000);

  it('--operator kfac: block diagonal, so the top eigenvalue is the largest layer top and the trace their sum', async () => {
    const out = join(tmp, 'kfac');
    const r = await spawnCli('hessian', run, '--operator', 'kfac', '--top', '1', '--trace', '--trace-se', '0.3', '--samples', '12', '--batch-size', '5', '--out', out);
    expect(r.stderr.split('\n').filter((l) => l.startsWith('ndcnn:'))).toEqual([]);
    expect(r.status).toBe(0);
    const j = JSON.parse(readFileSync(join(out, 'hessian.json'), 'utf8'));
    expect(j).toMatchObject({ operator: 'kfac', samples: 12 });
    // Every layer is one K-FAC block: the whole spectrum is the union of the layers' spectra.
    const tops = j.layers.map((l: { top: { values: number[] } }) => l.top.values[0]);
    expect(j.top.values[0]).toBeGreaterThan(0);
    expect(Math.abs(j.top.values[0] - Math.max(...tops))).toBeLessThan(1e-3 * j.top.values[0]);
    const sum = j.layers.reduce((s: number, l: { trace: { trace: number } }) => s + l.trace.trace, 0);
    const se = Math.hypot(j.trace.stdError, ...j.layers.map((l: { trace: { stdError: number } }) => l.trace.stdError));
    expect(Math.abs(sum - j.trace.trace)).toBeLessThan(4 * se);
  }, 300_000);

  it('names bad input in one line', async () => {
    mkdirSync(join(tmp, 'empty'), { recursive: true });
    const cases: [string[], RegExp][] = [
      [['hessian', join(tmp, 'nothing')], /no such run directory/],
      [['hessian', join(tmp, 'empty')], /no checkpoint\.ckpt/],
      [['hessian', run, '--top', '0'], /--top must be a positive integer/],
      [['hessian', run, '--top', '99999999'], /--top 99999999: the network has only \d+ parameters/],
      [['hessian', run, '--samples', '1000'], /--samples 1000: the run's training set holds only 32/],
      [['hessian', run, '--operator', 'newton'], /--operator must be hessian, ggn \(gauss-newton\), fisher, ef \(empirical-fisher\) or kfac, got 'newton'/],
      [['hessian', run, '--operator', 'kfac', '--mode', 'eval'], /--operator kfac: K-FAC's factors are taken in training mode only/],
      [['hessian', run, '--operator', 'kfac', '--diagonal'], /--operator kfac --diagonal: not computed/],
      [['hessian', run, '--mode', 'test'], /--mode must be train or eval, got 'test'/],
      [['hessian', run, '--trace-method', 'exact'], /--trace-method must be hutchinson or hutch\+\+/],
      [['hessian', run, '--trace-products', '2'], /--trace-products must be at least 3/],
      [['hessian', run, '--fisher-samples', '0'], /--fisher-samples must be a positive integer/],
      [['hessian', run, '--trace-se', '-1'], /--trace-se must be a positive number/],
      [['hessian', run, '--out', ''], /--out needs a non-empty value/],
      [['hessian', run, '--top'], /--top needs a value/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(...args);
      expect(r.status).not.toBe(0);
      const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(message);
    }
  });
});

describe('ndcnn train --track-sharpness', () => {
  it('logs the top eigenvalue every N steps, plots it, and resumes byte for byte', async () => {
    const flags = { experiment: 'image2d', maxTrain: 32, maxTest: 16, batchSize: 8, epochs: 2, seed: 5, trackSharpness: 3 };
    const whole = join(tmp, 'sharp-whole');
    const parts = join(tmp, 'sharp-parts');
    await train({ ...flags, out: whole }, quiet);
    await train({ ...flags, out: parts, stopAfter: 1 }, quiet);
    await train({ resume: parts }, quiet);
    const text = readFileSync(join(whole, 'metrics.jsonl'), 'utf8');
    expect(readFileSync(join(parts, 'metrics.jsonl'), 'utf8')).toBe(text);
    const steps = text.trim().split('\n').map((l) => JSON.parse(l)).filter((l) => l.kind === 'step');
    expect(steps).toHaveLength(8);
    // Steps 3 and 6 carry it (one in each epoch, so the resumed half computes one too).
    expect(steps.filter((s) => 'sharpness' in s).map((s) => s.step)).toEqual([3, 6]);
    for (const s of steps.filter((x) => 'sharpness' in x)) expect(s.sharpness).toBeGreaterThan(0);
    expect(readFileSync(join(whole, 'plot.svg'), 'utf8')).toContain('sharpness (top Hessian eigenvalue)');
  }, 300_000);

  it('rejects a negative interval and a change on resume', async () => {
    const r = await cli('train', 'image2d', '--track-sharpness', '-1');
    expect(r.stderr).toMatch(/--track-sharpness must be an integer ≥ 0/);
    const s = await cli('train', '--resume', run, '--track-sharpness', '5');
    expect(s.stderr).toMatch(/--track-sharpness cannot change when resuming/);
  });
});
