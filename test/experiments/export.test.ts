/**
 * `ndcnn export` on a tiny real run (image2d on the offline `mnist` package's digits, 64 of
 * them, one epoch): every format writes a file whose network computes what the checkpoint's does,
 * and bad flags end in one line on stderr.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from '../../experiments/checkpoint.js';
import { main } from '../../experiments/cli.js';
import { train, type Io } from '../../experiments/train.js';
import { decodeNpz, loadNetwork } from '../../src/io/index.js';
import { Rng } from '../../src/nd/rng.js';

const tmp = mkdtempSync(join(tmpdir(), 'ndcnn-export-'));
const run = join(tmp, 'run');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const quiet: Io = { out: () => {}, err: () => {}, tty: false };

beforeAll(async () => {
  await train({ experiment: 'image2d', maxTrain: 64, maxTest: 32, epochs: 1, batchSize: 16, out: run }, quiet);
}, 120_000);

async function cli(...args: string[]) {
  let stdout = '';
  let stderr = '';
  const status = await main(args, { out: (t) => (stdout += t), err: (t) => (stderr += t), tty: false });
  return { status, stdout, stderr };
}

describe('ndcnn export', () => {
  const x = Float32Array.from({ length: 2 * 28 * 28 }, (() => { const r = new Rng(4); return () => r.uniform(); })());

  it('safetensors: the file alone rebuilds the trained network', async () => {
    const r = await cli('export', run, '--format', 'safetensors');
    expect(r).toMatchObject({ status: 0, stderr: '' });
    const file = join(run, 'model.safetensors');
    expect(r.stdout).toContain(`${file}: image2d mnist network`);
    const net = loadNetwork(file);
    expect(net.params).toEqual(loadCheckpoint(join(run, 'checkpoint.ckpt')).params);
    expect(net.specs).toEqual(JSON.parse(readFileSync(join(run, 'config.json'), 'utf8')).network);
  });
  it('onnx (with --softmax, to --out): onnxruntime computes the same class probabilities', async () => {
    const out = join(tmp, 'digits.onnx');
    expect(await cli('export', run, '--format', 'onnx', '--softmax', '--out', out)).toMatchObject({ status: 0, stderr: '' });
    const net = loadNetwork(join(run, 'model.safetensors'));
    const session = await ort.InferenceSession.create(out);
    const p = (await session.run({ input: new ort.Tensor('float32', x, [2, 1, 28, 28]) })).output.data as Float32Array;
    const z = net.predict(x, 2);
    for (let r = 0; r < 2; r++) {
      const row = Array.from(z.subarray(10 * r, 10 * r + 10));
      const e = row.map((v) => Math.exp(v - Math.max(...row)));
      const s = e.reduce((a, b) => a + b);
      // float32 on both sides, different summation orders (test/io/onnx.test.ts derives the bound).
      e.forEach((v, j) => expect(Math.abs(p[10 * r + j] - v / s)).toBeLessThan(1e-5));
    }
  });
  it('npz: NumPy-readable arrays under the PyTorch names', async () => {
    expect(await cli('export', join(run, 'checkpoint.ckpt'), '--format', 'npz')).toMatchObject({ status: 0 });
    const arrays = decodeNpz(readFileSync(join(run, 'model.npz')));
    // image2d's default: conv · BN · relu · pool · conv · BN · relu · pool · flatten · dense · BN · relu · dropout · dense.
    const bn = (i: number) => [`${i}.weight`, `${i}.bias`, `${i}.running_mean`, `${i}.running_var`, `${i}.num_batches_tracked`];
    expect(Object.keys(arrays)).toEqual(['0.weight', '0.bias', ...bn(1), '4.weight', '4.bias', ...bn(5), '9.weight', '9.bias', ...bn(10), '13.weight', '13.bias']);
    expect(arrays['0.weight'].shape).toEqual([32, 1, 5, 5]);
  });
  it.each([
    [['--format', 'pickle'], /^ndcnn: --format pickle: unknown format \(known: safetensors, onnx, npz\)\n$/],
    [['--format', 'npz', '--softmax'], /^ndcnn: --softmax applies to --format onnx only\n$/],
    [[], /^ndcnn: Missing required argument: format/],
  ])('%j is refused in one line', async (flags, message) => {
    const r = await cli('export', run, ...flags);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(message);
  });
  it('a missing run and an unwritable --out are one line each, and leave nothing behind', async () => {
    expect((await cli('export', join(tmp, 'nope'), '--format', 'onnx')).stderr).toMatch(/^ndcnn: .*nope: no such run directory or checkpoint\n$/);
    const r = await cli('export', run, '--format', 'onnx', '--out', join(tmp, 'no-dir', 'm.onnx'));
    expect(r.stderr).toMatch(/^ndcnn: .*no-dir.*: no such file or directory\n$/);
    expect(existsSync(join(tmp, 'no-dir'))).toBe(false);
  });
});
