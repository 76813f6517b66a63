import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, parseCheckpoint, saveCheckpoint, type Checkpoint } from '../../experiments/checkpoint.js';
import { RunFileError } from '../../experiments/errors.js';
import { sampleConfig } from './fixtures/sample-config.js';

const dir = mkdtempSync(join(tmpdir(), 'ndcnn-ckpt-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function sample(params: Float32Array | Float64Array): Checkpoint {
  return {
    config: sampleConfig(),
    params,
    network: { step: 4, batch: 123456789, buffers: { '1.running_mean': [0.25, -1e-9], '1.running_var': [1.5, 2], '1.num_batches_tracked': [4] } },
    optimizer: { optimizer: 'sgd', steps: 3, velocity: [0.1, -2.5e-8] },
    batches: { rng: [11, 22, 33, 44], epoch: 2, cursor: 5 },
    augment: [5, 6, 7, 8],
    progress: { step: 17, epoch: 1, epochLossSum: 1.2345678901234567, epochSteps: 5, metricsBytes: 999, seconds: 1.5 },
  };
}

describe('checkpoint file', () => {
  it.each([
    ['float32', Float32Array.from([1.5, -0, 3.4028234663852886e38, 1e-45, Math.fround(Math.PI)])],
    ['float64', Float64Array.from([Math.PI, -1e-300, 5e-324, 1.7976931348623157e308])],
  ] as const)('round-trips %s parameters bit for bit, and every other field', (_name, params) => {
    const path = join(dir, `rt-${_name}.ckpt`);
    saveCheckpoint(path, sample(params));
    const back = loadCheckpoint(path);
    expect(back.params.constructor).toBe(params.constructor);
    expect(new Uint8Array(back.params.buffer)).toEqual(new Uint8Array(params.buffer));
    const { params: _p, ...rest } = back;
    const { params: _q, ...expected } = sample(params);
    expect(rest).toEqual(expected);
  });

  const path = join(dir, 'good.ckpt');
  saveCheckpoint(path, sample(new Float32Array([1, 2, 3])));
  const good = readFileSync(path);

  it.each([
    ['a file of another format', () => Buffer.from('RIFF\x24\x00\x00\x00WAVEfmt '), /not an ndcnn checkpoint/],
    ['an empty file', () => Buffer.alloc(0), /not an ndcnn checkpoint/],
    ['a later format version', () => Buffer.from(good.toString().replace(/^ndcnn-checkpoint 2/, 'ndcnn-checkpoint 7')), /format version 7/],
    ['a file cut after its first line', () => good.subarray(0, good.indexOf(10) + 1), /truncated checkpoint/],
    ['a truncated body', () => good.subarray(0, good.length - 10), /damaged or truncated/],
    ['one flipped byte in the body', () => Buffer.from(good).fill(0x41, good.length - 30, good.length - 29), /damaged or truncated/],
  ])('rejects %s with one line naming the file', (_what, bytes, message) => {
    let error: unknown;
    try {
      parseCheckpoint(bytes(), 'run/checkpoint.ckpt');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(RunFileError);
    expect((error as Error).message).toMatch(message);
    expect((error as Error).message).toMatch(/^run\/checkpoint\.ckpt: /);
    expect((error as Error).message).not.toContain('\n');
  });

  it('rejects a hash-consistent body whose fields are missing', () => {
    const body = JSON.stringify({ config: sampleConfig(), params: { dtype: 'float32', length: 2, base64: 'AAAA' } });
    const hash = createHash('sha256').update(body).digest('hex');
    expect(() => parseCheckpoint(Buffer.from(`ndcnn-checkpoint 1\n${hash}\n${body}`), 'x.ckpt')).toThrow(/params hold 3 bytes, 2 float32 values need 8/);
  });

  it('reads version 1 files (no network state) and rejects a version 2 file without one', () => {
    const { network: _n, ...v1 } = sample(new Float32Array([1, 2]));
    const body = JSON.stringify({ ...v1, params: { dtype: 'float32', length: 2, base64: Buffer.from(new Float32Array([1, 2]).buffer).toString('base64') } });
    const hash = createHash('sha256').update(body).digest('hex');
    const back = parseCheckpoint(Buffer.from(`ndcnn-checkpoint 1\n${hash}\n${body}`), 'old.ckpt');
    expect(back.network).toBeNull();
    expect(Array.from(back.params)).toEqual([1, 2]);
    expect(() => parseCheckpoint(Buffer.from(`ndcnn-checkpoint 2\n${hash}\n${body}`), 'new.ckpt')).toThrow(/network state should be \{step, batch, buffers\}/);
  });
});

describe('atomic replacement', () => {
  /**
   * A child saves versions 1, 2, 3, ... of a 200,000-parameter checkpoint in a loop; we SIGKILL
   * it at a varying moment (after a varying number of completed saves, plus a delay that lands
   * inside the next save). The file must then parse and be one complete version: every
   * parameter equal to its step counter, never a mixture or a torn write.
   */
  it.each([1, 3, 6])('leaves a complete version when killed during saves (kill after save %i)', async (after) => {
    const target = join(dir, `kill-${after}.ckpt`);
    const child = spawn(process.execPath, ['--import', 'tsx', join(__dirname, 'fixtures', 'save-loop.ts'), target], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let saved = 0;
    await new Promise<void>((done, fail) => {
      child.on('error', fail);
      child.on('exit', (code) => (code === null ? done() : fail(new Error(`save loop exited with ${code}`))));
      child.stdout.on('data', (chunk: Buffer) => {
        saved += chunk.toString().split('\n').filter((l) => l.startsWith('saved')).length;
        // A short delay after the count is reached lands somewhere inside the next save.
        if (saved >= after && !child.killed) setTimeout(() => child.kill('SIGKILL'), after * 3);
      });
    });
    const ckpt = loadCheckpoint(target);
    const k = ckpt.progress.step;
    expect(k).toBeGreaterThanOrEqual(after);
    expect(ckpt.params.length).toBe(200_000);
    expect(ckpt.params.every((v) => v === k)).toBe(true);
    expect(ckpt.batches.rng[3]).toBe(k);
  });
});
