/**
 * Hostile run directories (issue 22): a real run's checkpoint edited as an attacker would, its
 * SHA-256 line recomputed (the hash guards against damage, not against edits), then given to
 * every command that loads one: eval, export, hessian and train --resume. Each must refuse it in
 * one line naming the checkpoint and the problem, before training or exporting anything.
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { train, type Io } from '../../experiments/train.js';
import { inProcess, oneLine } from './run-cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'ndcnn-hostile-runs-'));
const run = join(tmp, 'run');
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const quiet: Io = { out: () => {}, err: () => {}, tty: false };

beforeAll(async () => {
  await train({ experiment: 'image2d', maxTrain: 32, maxTest: 16, epochs: 1, batchSize: 16, out: run }, quiet);
}, 120_000);

/** The checkpoint body as JSON.parse returns it, edited freely. */
type Body = Record<string, any>;

/** A copy of the run whose checkpoint body is `edit`ed (an object, or its JSON text), with a matching hash. */
function hostileRun(name: string, edit: (b: Body) => void | string): string {
  const dir = join(tmp, name);
  cpSync(run, dir, { recursive: true });
  const text = readFileSync(join(run, 'checkpoint.ckpt'), 'utf8');
  const first = text.indexOf('\n');
  const b = JSON.parse(text.slice(text.indexOf('\n', first + 1) + 1)) as Body;
  const out = edit(b) ?? JSON.stringify(b);
  writeFileSync(join(dir, 'checkpoint.ckpt'), `${text.slice(0, first)}\n${createHash('sha256').update(out).digest('hex')}\n${out}`);
  return dir;
}

const ALL = ['eval', 'export', 'hessian', 'resume'] as const;
const command = (which: Command, dir: string) =>
  which === 'eval' ? ['eval', dir]
  : which === 'export' ? ['export', dir, '--format', 'onnx']
  : which === 'hessian' ? ['hessian', dir, '--samples', '16', '--quiet']
  : ['train', '--resume', dir, '--quiet'];

const nested = (depth: number) => {
  let s = '{"kind":"flatten"}';
  for (let i = 0; i < depth; i++) s = `{"kind":"residual","body":[${s}]}`;
  return s;
};

type Command = (typeof ALL)[number];
/** What is edited, how, the refusal expected after "ndcnn: FILE: ", and the commands that read that part. */
type Case = [string, (b: Body) => void | string, RegExp, readonly Command[]];

describe('hostile checkpoints: one line naming the file and the problem, from every command that loads one', () => {
  const cases: Case[] = [
    ['10⁹ conv channels', (b) => void (b.config.network[0] = { kind: 'conv', channels: 1e9, kernel: 5 }), /config: conv#0: brings the network to 26000000000 parameters, more than the limit of 268435456 \(limits\.parameters\)$/, ALL],
    ['an input of 10¹⁰ values', (b) => void (b.config.inShape = [1, 1e5, 1e5]), /config: network: the input \[1, 100000, 100000\] holds 10000000000 values per sample, more than the limit/, ALL],
    ['residual blocks 5000 deep', (b) => JSON.stringify({ ...b, config: { ...b.config, network: ['NEST'] } }).replace('"NEST"', nested(5000)), /config: network: residual blocks nest more than 32 deep$/, ALL],
    ["a layer of kind 'constructor'", (b) => void (b.config.network[2] = { kind: 'constructor' }), /config: layer #2: unknown layer kind "constructor"/, ALL],
    ["a layer option '__proto__'", (b) => JSON.stringify(b).replace('{"kind":"conv",', '{"kind":"conv","__proto__":{"channels":3},'), /config: conv#0: unknown option '__proto__'/, ALL],
    ["loss 'valueOf'", (b) => void (b.config.loss = 'valueOf'), /config: network: unknown loss 'valueOf'/, ALL],
    ["experiment 'constructor'", (b) => void (b.config.experiment = 'constructor'), /config: unknown experiment 'constructor' \(known: audio1d, image2d, mri3d\)$/, ALL],
    ["dataset 'toString'", (b) => void (b.config.dataset = 'toString'), /config: dataset 'toString': image2d takes mnist or fashion-mnist$/, ALL],
    ["split '__proto__'", (b) => void (b.config.split = '__proto__'), /config: split '__proto__': image2d on mnist takes random$/, ALL],
    ["backend 'constructor'", (b) => void (b.config.backend = 'constructor'), /config: unknown backend 'constructor' \(known: cpu, gpu, webgpu\)$/, ALL],
    ["optimizer 'hasOwnProperty'", (b) => void (b.config.optimizer = 'hasOwnProperty'), /config: unknown optimizer 'hasOwnProperty'/, ALL],
    ['a batch size of 0', (b) => void (b.config.batchSize = 0), /config field 'batchSize' should be an integer ≥ 1, got 0$/, ALL],
    ['a negative training subset', (b) => void (b.config.maxTrain = -5), /config field 'maxTrain' should be an integer ≥ 1, got -5$/, ALL],
    ['10⁶ threads', (b) => void (b.config.threads = 1e6), /config: network: threads must be an integer from 1 to 56, got 1000000$/, ['eval', 'hessian', 'resume']],
    ['a negative metrics offset', (b) => void (b.progress.metricsBytes = -10), /progress field 'metricsBytes' should be an integer ≥ 0, got -10$/, ALL],
    ['a fractional step', (b) => void (b.progress.step = 1.5), /progress field 'step' should be an integer ≥ 0, got 1\.5$/, ALL],
    ['a shuffling state beyond 32 bits', (b) => void (b.batches.rng[0] = 2 ** 40), /checkpoint batches should be \{rng: \[4 unsigned 32-bit words\]/, ALL],
    ['an infinite running variance (1e999 in JSON)', (b) => JSON.stringify(b).replace(/("1\.running_var":\[)[^,]+/, '$11e999'), /network state does not fit: network state: buffer '1\.running_var' holds Infinity at element 0$/, ALL],
    ['an infinite velocity (1e999)', (b) => JSON.stringify(b).replace(/("velocity":\[)[^,]+/, '$11e999'), /optimizer state does not fit: sgd\.loadState: 'velocity' must be null or an array of finite numbers/, ['resume']],
    ["an optimizer option '__proto__'", (b) => JSON.stringify(b).replace('"optimizerOptions":{', '"optimizerOptions":{"__proto__":{"mu":5},'), /config: Sgd: unknown option '__proto__'/, ['resume']],
    ['a learning-rate schedule of an unknown kind', (b) => void (b.config.optimizerOptions.lr = 'fast'), /config: schedule "fast": unknown kind/, ['resume']],
  ];
  it.each(cases)('%s', async (name, edit, message, commands) => {
    const dir = hostileRun(name.replace(/\W+/g, '-'), edit);
    const file = join(dir, 'checkpoint.ckpt');
    const before = readFileSync(file);
    for (const which of commands) {
      const r = await inProcess(...command(which, dir));
      expect(r.status, `${which}: ${r.stderr}`).toBe(1);
      const line = oneLine(r);
      expect(line.startsWith(`ndcnn: ${file}: `), `${which}: ${line}`).toBe(true);
      expect(line, which).toMatch(message);
    }
    // Refused before anything was written: no export, no new checkpoint.
    expect(existsSync(join(dir, 'model.onnx'))).toBe(false);
    // Buffer.equals: toEqual walks a 5 MB checkpoint byte by byte (tens of seconds).
    expect(readFileSync(file).equals(before)).toBe(true);
  }, 60_000);

  it('a run stopped before its first checkpoint, its config.json edited: --resume names config.json', async () => {
    const dir = join(tmp, 'config-only');
    cpSync(run, dir, { recursive: true });
    rmSync(join(dir, 'checkpoint.ckpt'));
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    config.network[0].channels = 1e9;
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    const line = oneLine(await inProcess('train', '--resume', dir, '--quiet'));
    expect(line).toBe(`ndcnn: ${join(dir, 'config.json')}: config: conv#0: brings the network to 26000000000 parameters, more than the limit of 268435456 (limits.parameters)`);
  });
});
