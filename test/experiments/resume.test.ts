/**
 * Exact resume on the CPU backend: a run interrupted and resumed writes metrics.jsonl
 * byte-identical to the uninterrupted run with the same seed. Covered: a stop at an epoch
 * boundary (--stop-after) for SGD with augmentation, for HF and for K-FAC; a SIGKILL of the real
 * executable in mid-epoch after a --checkpoint-every checkpoint, which also checks that the
 * resumed run cuts metrics.jsonl back to what its checkpoint covered; and a SIGINT, which
 * checkpoints at the next step boundary. With threads, the same holds for the same thread count.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../experiments/checkpoint.js';
import { readMetrics, type EpochMetrics, type StepMetrics } from '../../experiments/metrics.js';
import { train, type Io } from '../../experiments/train.js';
import type { TrainFlags } from '../../experiments/resolve.js';

const ROOT = resolve(__dirname, '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'ndcnn-resume-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const quiet: Io = { out: () => {}, err: () => {}, tty: false };

/** MNIST, 96 training digits in batches of 16 (6 steps an epoch), 2 epochs, shifts on. */
const TINY: TrainFlags = { experiment: 'image2d', maxTrain: 96, maxTest: 40, batchSize: 16, epochs: 2, shift: 2, seed: 7 };

const metrics = (dir: string) => readFileSync(join(dir, 'metrics.jsonl'), 'utf8');

describe.each([
  ['sgd', {}],
  ['sgd', { warmup: 3, clip: 1 }],
  ['adam', { warmup: 3, clip: 1, lr: 0.003 }],
  ['adamw', { weightDecay: 0.05 }],
  ['hf', { maxTrain: 48, batchSize: 24 }],
  // K-FAC's running factors, the factors of its current inverse and its momentum.
  ['kfac', { lr: 0.05, damping: 0.01 }],
  // Split over 2 threads (batch norm's statistics reduced over them); the other cases run at
  // $NDCNN_THREADS, else the machine's cores, which CI sets to 1 and then 2.
  ['sgd', { threads: 2 }],
  ['hf', { maxTrain: 48, batchSize: 24, threads: 2 }],
  ['kfac', { lr: 0.05, damping: 0.01, threads: 2 }],
] as const)('resume with %s %j', (optimizer, extra) => {
  it('1 epoch + resume equals the uninterrupted run, byte for byte', async () => {
    const flags: TrainFlags = { ...TINY, ...extra, optimizer };
    const name = [optimizer, ...Object.keys(extra)].join('-');
    const whole = join(tmp, `${name}-whole`);
    const parts = join(tmp, `${name}-parts`);
    await train({ ...flags, out: whole }, quiet);
    const first = await train({ ...flags, out: parts, stopAfter: 1 }, quiet);
    expect(first.stopped).toBe(true);
    expect(first.epochs).toBe(1);
    // The first half is a strict prefix: the interrupted run really stopped early.
    expect(metrics(whole).startsWith(metrics(parts))).toBe(true);
    expect(metrics(parts).length).toBeLessThan(metrics(whole).length);
    const rest = await train({ resume: parts }, quiet);
    expect(rest.stopped).toBe(false);
    expect(metrics(parts)).toBe(metrics(whole));
    expect(loadCheckpoint(join(parts, 'checkpoint.ckpt')).params).toEqual(loadCheckpoint(join(whole, 'checkpoint.ckpt')).params);
    // The options reached the optimizer: its checkpointed config holds them.
    const config = loadCheckpoint(join(whole, 'checkpoint.ckpt')).config;
    if ('warmup' in extra) expect(config.optimizerOptions).toMatchObject({ clipNorm: 1, lr: { kind: 'warmup-cosine', warmupSteps: 3, totalSteps: 12 } });
    if ('weightDecay' in extra) expect(config.optimizerOptions).toMatchObject({ weightDecay: 0.05 });
    // And the optimizer makes progress on the batches it steps on: SGD's (Adam's) second epoch has a
    // lower mean batch loss than its first batch; HF's accepted steps lower their batch's loss
    // (its line search guarantees it; the check fails if steps are rejected or the report lies).
    const lines = readMetrics(join(whole, 'metrics.jsonl'));
    const steps = lines.filter((l): l is StepMetrics => l.kind === 'step');
    if (optimizer !== 'hf') {
      const lastEpoch = lines.filter((l): l is EpochMetrics => l.kind === 'epoch').at(-1) as EpochMetrics;
      expect(lastEpoch.trainLoss).toBeLessThan(steps[0].loss);
    } else {
      const accepted = steps.filter((s) => s.accepted);
      expect(accepted.length).toBeGreaterThanOrEqual(steps.length / 2);
      for (const s of accepted) expect(s.lossAfter as number).toBeLessThan(s.loss);
    }
  });
});

const FIXTURES = join(ROOT, 'test', 'fixtures', 'data');
/** FSDD's 48 fixture training recordings in batches of 16, 2 epochs. */
const AUDIO: TrainFlags = { experiment: 'audio1d', dataDir: FIXTURES, batchSize: 16, epochs: 2, seed: 3 };

describe.each([
  ['image2d: shift, flip, rotation, zoom, label smoothing, mixup', { ...TINY, flip: true, rotate: 10, zoom: 0.1, labelSmoothing: 0.1, mixup: 0.4 }],
  ['audio1d log-mel: shift, speed, noise, SpecAugment, label smoothing, mixup', { ...AUDIO, speed: 0.1, noiseSnr: 15, freqMask: 6, timeMask: 12, labelSmoothing: 0.05, mixup: 0.3 }],
  ['audio1d MFCC with speed on 2 threads', { ...AUDIO, features: 'mfcc', speed: 0.15, threads: 2 }],
] as const)('resume with augmentation, %s', (_name, flags) => {
  it('1 epoch + resume equals the uninterrupted run, byte for byte', async () => {
    const key = `aug-${Object.keys(flags).join('-')}-${flags.experiment}`;
    const whole = join(tmp, `${key}-whole`);
    const parts = join(tmp, `${key}-parts`);
    await train({ ...flags, out: whole }, quiet);
    await train({ ...flags, out: parts, stopAfter: 1 }, quiet);
    expect(metrics(whole).startsWith(metrics(parts))).toBe(true);
    await train({ resume: parts }, quiet);
    expect(metrics(parts)).toBe(metrics(whole));
    const config = loadCheckpoint(join(whole, 'checkpoint.ckpt')).config;
    const { experiment: _e, dataDir: _d, batchSize: _b, epochs: _p, seed: _s, maxTrain: _m, maxTest: _t, shift: _h, threads: _n, features, ...augment } = flags as TrainFlags;
    expect(config.augment).toEqual(augment);
    if (features !== undefined) expect(config.data.features).toBe(features);
  });
});

describe('resume after a kill or an interrupt', () => {
  const flags = ['--max-train', '96', '--max-test', '40', '--batch-size', '16', '--epochs', '2', '--shift', '2', '--seed', '7', '--quiet'];
  const whole = join(tmp, 'signal-whole');

  /** Spawns the real executable; sends `signal` once `ready(dir)` holds; resolves with the exit. */
  function runUntil(dir: string, extra: string[], ready: () => boolean, signal: NodeJS.Signals) {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'experiments', 'cli.ts'), 'train', 'image2d', ...flags, ...extra, '--out', dir], {
      cwd: ROOT,
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    return new Promise<{ code: number | null; stderr: string }>((done, fail) => {
      const poll = setInterval(() => {
        if (ready()) {
          clearInterval(poll);
          child.kill(signal);
        }
      }, 5);
      child.on('exit', (code) => {
        clearInterval(poll);
        done({ code, stderr });
      });
      child.on('error', fail);
    });
  }

  it('a run killed (SIGKILL) mid-epoch resumes from its step checkpoint to the same metrics', async () => {
    await train({ ...TINY, out: whole }, quiet);
    const killed = join(tmp, 'kill-parts');
    // Kill as soon as the first step checkpoint (step 2 of epoch 1) exists.
    const ckpt = join(killed, 'checkpoint.ckpt');
    await runUntil(killed, ['--checkpoint-every', '2'], () => existsSync(ckpt), 'SIGKILL');
    expect(loadCheckpoint(ckpt).progress.step).toBeGreaterThan(0);
    await train({ resume: killed }, quiet);
    expect(metrics(killed)).toBe(metrics(whole));
  });

  it('Ctrl-C (SIGINT) checkpoints at the next step, exits 130, and the run resumes to the same metrics', async () => {
    const interrupted = join(tmp, 'int-parts');
    const log = join(interrupted, 'metrics.jsonl');
    const r = await runUntil(interrupted, [], () => existsSync(log) && readFileSync(log, 'utf8').split('\n').length > 2, 'SIGINT');
    expect(r.code).toBe(130);
    expect(r.stderr).toMatch(/interrupted at step \d+; checkpoint saved/);
    const step = loadCheckpoint(join(interrupted, 'checkpoint.ckpt')).progress.step;
    expect(step).toBeGreaterThanOrEqual(2);
    expect(metrics(whole).startsWith(metrics(interrupted))).toBe(true);
    await train({ resume: interrupted }, quiet);
    expect(metrics(interrupted)).toBe(metrics(whole));
  });

  it('refuses flags that would change the computation', async () => {
    const dir = join(tmp, 'sgd-parts');
    await expect(train({ resume: dir, lr: 0.5 }, quiet)).rejects.toThrow(/--lr cannot change when resuming/);
    await expect(train({ resume: dir, experiment: 'audio1d' }, quiet)).rejects.toThrow(/that run is image2d, not audio1d/);
  });
});
