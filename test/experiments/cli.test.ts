/**
 * The command line on bad input: ONE line on stderr ("ndcnn: ..." naming the problem), a
 * non-zero exit, no stack trace, and no run directory left behind. A representative set spawns
 * the real executable; the many flag checks run `main` in-process (same code path from yargs
 * on, without a Node start-up each).
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { backends } from '../../src/nd/backends/index.js';
import { gpuModes } from '../../src/nd/backends/gpu/index.js';
import { saveCheckpoint } from '../../experiments/checkpoint.js';
import { main } from '../../experiments/cli.js';
import { FIXTURE_DATA } from '../data.js';
import { sampleConfig } from './fixtures/sample-config.js';

const ROOT = resolve(__dirname, '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'ndcnn-cli-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'experiments', 'cli.ts'), ...args], {
    cwd: ROOT,
    encoding: 'utf8',
    env: { ...process.env, NDCNN_DEBUG: '', NDCNN_CACHE: join(tmp, 'no-cache') },
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `main` in-process, with stdout and stderr captured. */
async function inProcess(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const status = await main(args, { out: (t) => (stdout += t), err: (t) => (stderr += t), tty: false });
  return { status, stdout, stderr };
}

/** Exactly one non-empty stderr line, starting "ndcnn: ", no stack frame; returns the line. */
function oneLine(r: { stderr: string }): string {
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^ndcnn: /);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  return lines[0];
}

/** A data directory holding one set whose file `name` gets `bytes`. */
function dataDir(set: string, files: Record<string, Uint8Array | string>): string {
  const root = mkdtempSync(join(tmp, `${set}-`));
  for (const [name, bytes] of Object.entries(files)) {
    mkdirSync(join(root, set, name, '..'), { recursive: true });
    writeFileSync(join(root, set, name), bytes);
  }
  return root;
}

/** A valid 16-bit mono 8 kHz WAV of n samples. */
function wav(n: number): Buffer {
  const b = Buffer.alloc(44 + 2 * n);
  b.write('RIFF', 0);
  b.writeUInt32LE(36 + 2 * n, 4);
  b.write('WAVEfmt ', 8);
  b.writeUInt32LE(16, 16);
  b.writeUInt16LE(1, 20);
  b.writeUInt16LE(1, 22);
  b.writeUInt32LE(8000, 24);
  b.writeUInt32LE(16000, 28);
  b.writeUInt16LE(2, 32);
  b.writeUInt16LE(16, 34);
  b.write('data', 36);
  b.writeUInt32LE(2 * n, 40);
  return b;
}

describe('ndcnn command line: bad flags', () => {
  it.each([
    [['train', 'image2d', '--bogus', '3'], /Unknown argument: bogus/, 2],
    [['train', 'image2d', '--batch-size', '0'], /--batch-size must be an integer ≥ 1, got 0/, 2],
  ])('spawned: %j', (args, message, status) => {
    const out = join(tmp, `never-${Math.random().toString(36).slice(2)}`);
    const r = cli(...args, '--out', out);
    expect(r.status).toBe(status);
    expect(oneLine(r)).toMatch(message);
    expect(existsSync(out)).toBe(false);
  });

  it.each([
    [['train', 'image2d', '--bogus', '3'], /Unknown argument: bogus/],
    [['train', 'image2d', '--batch-size', '0'], /--batch-size must be an integer ≥ 1, got 0/],
    [['train', 'image2d', '--epochs', 'many'], /--epochs must be an integer ≥ 1, got a non-number/],
    [['train', 'image2d', '--lr', '-1'], /--lr must be a finite number > 0, got -1/],
    [['train', 'speech9d'], /unknown experiment 'speech9d' \(known: audio1d, image2d, mri3d\)/],
    [['train', 'image2d', '--dataset', 'cifar'], /--dataset cifar: image2d takes mnist or fashion-mnist/],
    [['train', 'image2d', '--optimizer', 'rmsprop'], /--optimizer rmsprop: unknown \(known: sgd, hf, adam, adamw, kfac\)/],
    [['train', 'image2d', '--optimizer', 'hf', '--lr', '0.1'], /--lr applies to sgd, adam, adamw and kfac; hf has none/],
    [['train', 'image2d', '--optimizer', 'hf', '--clip', '1'], /--clip applies to sgd, adam and adamw; hf has none/],
    [['train', 'image2d', '--optimizer', 'kfac', '--clip', '1'], /--clip applies to sgd, adam and adamw; kfac bounds its steps by KL-clipping/],
    [['train', 'image2d', '--weight-decay', '-0.1'], /--weight-decay must be a finite number ≥ 0, got -0.1/],
    [['train', 'image2d', '--warmup', '2.5'], /--warmup must be an integer ≥ 0, got 2.5/],
    [['train', 'image2d', '--clip', '0'], /--clip must be a finite number > 0, got 0/],
    [['train', 'image2d', '--optimizer', 'adam', '--warmup', '1000', '--max-train', '64', '--max-test', '10', '--epochs', '1'], /--warmup 1000: the run has only 2 steps/],
    [['train', 'image2d', '--patch-size', '8'], /--patch-size applies to .* not image2d/],
    [['train', 'audio1d', '--split', 'diagonal'], /--split diagonal: audio1d on fsdd takes random, speakers, official/],
    [['train', 'image2d', '--backend', 'abacus', '--max-train', '10', '--max-test', '10'], /--backend abacus: unknown backend 'abacus'/],
    [['frobnicate'], /Unknown argument: frobnicate|Unknown command/],
    [[], /name a command/],
  ])('in-process: %j', async (args, message) => {
    const out = join(tmp, `never-${Math.random().toString(36).slice(2)}`);
    const r = await inProcess(...args, ...(args[0] === 'train' ? ['--out', out] : []));
    expect(r.status).not.toBe(0);
    expect(oneLine(r)).toMatch(message);
    expect(existsSync(out)).toBe(false);
  });

  it('an unknown --backend: one line naming it and the known ones', () => {
    const r = cli('train', 'image2d', '--backend', 'tpu', '--max-train', '10', '--max-test', '10', '--out', join(tmp, 'tpu'));
    expect(r.status).toBe(2);
    expect(oneLine(r)).toMatch(/--backend tpu: unknown backend 'tpu' \(known: cpu, gpu, webgpu\)/);
  });
});

describe('ndcnn command line: bad data and files', () => {
  it('a data directory without the set', async () => {
    const r = await inProcess('train', 'audio1d', '--data-dir', join(tmp, 'empty'), '--out', join(tmp, 'o1'));
    expect(r.status).toBe(1);
    expect(oneLine(r)).toMatch(/fsdd: data set not found in .*empty.*ndcnn fetch fsdd/);
    expect(existsSync(join(tmp, 'o1'))).toBe(false);
  });

  it('a truncated WAV file names the file', () => {
    const good = wav(400);
    const dir = dataDir('fsdd', { 'recordings/0_ann_0.wav': good, 'recordings/1_ann_0.wav': good.subarray(0, 300) });
    const r = cli('train', 'audio1d', '--data-dir', dir, '--out', join(tmp, 'o2'));
    expect(r.status).toBe(1);
    expect(oneLine(r)).toMatch(/fsdd\/recordings\/1_ann_0\.wav: truncated data chunk/);
    expect(existsSync(join(tmp, 'o2'))).toBe(false);
  });

  it('a garbled IDX file names the file', async () => {
    const dir = dataDir('fashion-mnist', { 'train-images-idx3-ubyte.gz': gzipSync(Buffer.from('\x00\x00\x08\x03garbage')) });
    const r = await inProcess('train', 'image2d', '--dataset', 'fashion-mnist', '--data-dir', dir, '--out', join(tmp, 'o3'));
    expect(r.status).toBe(1);
    expect(oneLine(r)).toMatch(/fashion-mnist\/train-images-idx3-ubyte\.gz: /);
  });

  it('a truncated NIfTI file names the file', async () => {
    const real = readFileSync(join(FIXTURE_DATA, 'mri', 'ch2bet.nii.gz'));
    const dir = dataDir('mri', { 'ch2bet.nii.gz': real.subarray(0, 5000), 'aal.nii.gz': '', 'aal.nii.txt': '' });
    const r = await inProcess('train', 'mri3d', '--data-dir', dir, '--out', join(tmp, 'o4'));
    expect(r.status).toBe(1);
    expect(oneLine(r)).toMatch(/mri\/ch2bet\.nii\.gz: /);
  });

  it('a patch larger than the volume', () => {
    const r = cli('train', 'mri3d', '--patch-size', '400', '--data-dir', FIXTURE_DATA, '--out', join(tmp, 'o5'));
    expect(r.status).toBe(1);
    expect(oneLine(r)).toMatch(/a 400\^3 patch does not fit in the 72x80x72 volume/);
    expect(existsSync(join(tmp, 'o5'))).toBe(false);
  });

  it('eval of a file that is not a checkpoint', async () => {
    const path = join(tmp, 'not.ckpt');
    copyFileSync(join(ROOT, 'package.json'), path);
    const r = await inProcess('eval', path);
    expect(r.status).toBe(1);
    expect(oneLine(r)).toMatch(/not\.ckpt: not an ndcnn checkpoint/);
  });

  it('eval of a truncated checkpoint', () => {
    const path = join(tmp, 'cut.ckpt');
    const params = new Float32Array(1000).fill(0.5);
    const ckpt = { config: sampleConfig(), params, network: null, optimizer: {}, batches: { rng: [1, 2, 3, 4], epoch: 0, cursor: 0 }, augment: null };
    saveCheckpoint(path, { ...ckpt, progress: { step: 0, epoch: 0, epochLossSum: 0, epochSteps: 0, metricsBytes: 0, seconds: 0 } });
    writeFileSync(path, readFileSync(path).subarray(0, 2000));
    const r = cli('eval', path);
    expect(r.status).toBe(1);
    expect(oneLine(r)).toMatch(/cut\.ckpt: checkpoint is damaged or truncated/);
  });

  it('eval and resume of a path that does not exist', async () => {
    expect(oneLine(await inProcess('eval', join(tmp, 'nowhere')))).toMatch(/nowhere: no such run directory or checkpoint/);
    expect(oneLine(await inProcess('train', '--resume', join(tmp, 'nowhere')))).toMatch(/nowhere: no such run directory or checkpoint/);
  });

  it('fetch of an unknown data set', async () => {
    const r = await inProcess('fetch', 'imagenet');
    expect(r.status).toBe(2);
    expect(oneLine(r)).toMatch(/fetch imagenet: unknown data set \(known: mnist, fsdd, fashion-mnist, mri\)/);
  });
});

describe('ndcnn command line: help and info', () => {
  it('train --help lists the flags and exits 0', () => {
    const r = cli('train', '--help');
    expect(r.status).toBe(0);
    for (const flag of ['--dataset', '--backend', '--optimizer', '--epochs', '--batch-size', '--lr', '--weight-decay', '--warmup', '--clip', '--seed', '--data-dir', '--out', '--resume', '--quiet']) {
      expect(r.stdout).toContain(flag);
    }
  });

  it('info names every registered backend, and every gpu.js mode with why it cannot run', () => {
    const r = cli('info');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^ndcnn \d+\.\d+\.\d+, node /);
    expect(r.stdout).toContain(`backends: ${Object.keys(backends).join(', ')}`);
    expect(r.stdout).toMatch(/ {2}cpu: cpu \(float32, gemm (openblas|wasm-simd|js)/);
    for (const m of gpuModes()) expect(r.stdout).toContain(`  ${m.mode}: ${m.available ? 'available' : m.reason}`);
  });
});
