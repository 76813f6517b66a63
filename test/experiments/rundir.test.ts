/**
 * Run directories that used to be dead ends or raw errors: a run stopped before its first
 * checkpoint (restart it with --resume, or replace it with --overwrite; both messages agree),
 * --out naming a file, a directory where the checkpoint should be, a checkpoint holding a NaN,
 * and temporary files left by killed processes.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint, saveCheckpoint } from '../../experiments/checkpoint.js';
import type { TrainFlags } from '../../experiments/resolve.js';
import { train, type Io } from '../../experiments/train.js';
import { inProcess, oneLine } from './run-cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'ndcnn-rundir-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const quiet: Io = { out: () => {}, err: () => {}, tty: false };
const TINY: TrainFlags = { experiment: 'image2d', maxTrain: 32, maxTest: 16, batchSize: 16, epochs: 1, quiet: true };
const TINY_ARGS = ['--max-train', '32', '--max-test', '16', '--batch-size', '16', '--epochs', '1', '--quiet'];
const read = (dir: string, file: string) => readFileSync(join(dir, file), 'utf8');

/** A run directory as a kill before the first checkpoint leaves it: config.json and a metrics prefix. */
async function deadEnd(name: string): Promise<{ dir: string; whole: string }> {
  const whole = join(tmp, `${name}-whole`);
  await train({ ...TINY, out: whole }, quiet);
  const dir = join(tmp, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'config.json'), read(whole, 'config.json'));
  writeFileSync(join(dir, 'metrics.jsonl'), read(whole, 'metrics.jsonl').split('\n')[0] + '\n');
  return { dir, whole };
}

describe('a run stopped before its first checkpoint', () => {
  it('--out names both ways out; --resume restarts it from step 0 with its config and says so', async () => {
    const { dir, whole } = await deadEnd('dead');
    const again = await inProcess('train', 'image2d', ...TINY_ARGS, '--out', dir);
    expect(again.status).toBe(2);
    expect(oneLine(again)).toContain(`--out ${dir} already holds a run; it stopped before its first checkpoint; restart it with --resume ${dir} (same config, from step 0), or replace it with --overwrite`);

    const r = await inProcess('train', '--resume', dir, '--quiet');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toContain("no checkpoint.ckpt was saved, so restarting from step 0 with the run's config.json");
    // The same config from step 0 is the same run: the files match the uninterrupted one's.
    expect(read(dir, 'metrics.jsonl')).toBe(read(whole, 'metrics.jsonl'));
    expect(loadCheckpoint(join(dir, 'checkpoint.ckpt')).params).toEqual(loadCheckpoint(join(whole, 'checkpoint.ckpt')).params);
  });

  it('--overwrite replaces the run files (and only those) once the new run has its data', async () => {
    const { dir } = await deadEnd('replaced');
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    const fresh = join(tmp, 'replaced-fresh');
    await train({ ...TINY, seed: 4, out: fresh }, quiet);
    const r = await inProcess('train', 'image2d', ...TINY_ARGS, '--seed', '4', '--out', dir, '--overwrite');
    expect(r.status, r.stderr).toBe(0);
    expect(read(dir, 'metrics.jsonl')).toBe(read(fresh, 'metrics.jsonl'));
    expect(read(dir, 'notes.txt')).toBe('mine');
    // A failing replacement (bad flag found after parsing) leaves the old run alone.
    const bad = await inProcess('train', 'image2d', ...TINY_ARGS, '--shift', '99', '--out', dir, '--overwrite');
    expect(bad.status).toBe(2);
    expect(read(dir, 'metrics.jsonl')).toBe(read(fresh, 'metrics.jsonl'));
  });

  it('a run with a checkpoint: --out says to resume it or overwrite it; --overwrite with --resume is refused', async () => {
    const dir = join(tmp, 'done');
    await train({ ...TINY, out: dir }, quiet);
    expect(oneLine(await inProcess('train', 'image2d', ...TINY_ARGS, '--out', dir))).toContain(
      `--out ${dir} already holds a run; continue it with --resume ${dir}, or replace it with --overwrite`,
    );
    expect(oneLine(await inProcess('train', '--resume', dir, '--out', dir, '--overwrite'))).toMatch(/--overwrite and --resume contradict each other/);
    expect(oneLine(await inProcess('eval', dir, '--data-dir', tmp))).toMatch(/--data-dir does not apply to mnist/);
  });

  it('a directory that is no run: --resume and eval say so', async () => {
    const empty = join(tmp, 'empty');
    mkdirSync(empty);
    expect(oneLine(await inProcess('train', '--resume', empty))).toContain(`${empty}: neither checkpoint.ckpt nor config.json here (not a run directory)`);
    expect(oneLine(await inProcess('eval', empty))).toContain(`${empty}: no checkpoint.ckpt in this directory (not a run directory)`);
  });
});

describe('paths that are not what they should be', () => {
  it('--out naming a file', async () => {
    const file = join(tmp, 'a-file');
    writeFileSync(file, 'x');
    const r = await inProcess('train', 'image2d', ...TINY_ARGS, '--out', file);
    expect(r.status).toBe(2);
    expect(oneLine(r)).toBe(`ndcnn: --out ${file}: exists and is not a directory`);
  });

  it('a directory named checkpoint.ckpt: eval, resume and a new run name it', async () => {
    const dir = join(tmp, 'odd');
    await train({ ...TINY, out: dir }, quiet);
    rmSync(join(dir, 'checkpoint.ckpt'));
    mkdirSync(join(dir, 'checkpoint.ckpt'));
    const msg = `ndcnn: ${join(dir, 'checkpoint.ckpt')}: is a directory, not a checkpoint file`;
    expect(oneLine(await inProcess('eval', dir))).toBe(msg);
    expect(oneLine(await inProcess('train', '--resume', dir))).toBe(msg);
    const other = join(tmp, 'odd2');
    mkdirSync(join(other, 'checkpoint.ckpt', 'inside'), { recursive: true });
    expect(oneLine(await inProcess('train', 'image2d', ...TINY_ARGS, '--out', other))).toBe(
      `ndcnn: ${join(other, 'checkpoint.ckpt')}: is a directory, so it cannot be written as a file`,
    );
  });
});

describe('checkpoints with non-finite parameters', () => {
  it.each([NaN, Infinity])('a re-hashed checkpoint holding %s is refused by eval and resume', async (bad) => {
    const dir = join(tmp, `nan-${bad}`);
    await train({ ...TINY, out: dir }, quiet);
    const file = join(dir, 'checkpoint.ckpt');
    const ckpt = loadCheckpoint(file);
    ckpt.params[17] = bad;
    saveCheckpoint(file, ckpt); // a valid hash: only the value is wrong
    const line = `ndcnn: ${file}: checkpoint parameter 17 of ${ckpt.params.length} is ${bad}; a network with non-finite parameters cannot be used`;
    expect(oneLine(await inProcess('eval', dir))).toBe(line);
    expect(oneLine(await inProcess('train', '--resume', dir))).toBe(line);
  });
});

describe('temporary files of killed processes', () => {
  it('a run removes the .NAME.PID.tmp files of dead PIDs from its directory, not those of live ones', async () => {
    const dead = Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' }).stdout);
    const dir = join(tmp, 'leftovers');
    const { dir: stopped } = await deadEnd('leftovers');
    expect(stopped).toBe(dir);
    const deadFiles = [`.checkpoint.ckpt.${dead}.tmp`, `.plot.svg.${dead}.tmp`];
    const liveFile = `.plot.svg.${process.ppid}.tmp`;
    for (const f of [...deadFiles, liveFile]) writeFileSync(join(dir, f), 'partial');
    const r = await inProcess('train', '--resume', dir, '--quiet');
    expect(r.status, r.stderr).toBe(0);
    for (const f of deadFiles) expect(existsSync(join(dir, f)), f).toBe(false);
    expect(existsSync(join(dir, liveFile))).toBe(true);
  });
});
