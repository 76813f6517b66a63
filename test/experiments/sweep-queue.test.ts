/**
 * Sweeps over a real Redis (redis.ts) with real worker processes, against the local pool's
 * results for the same spec (runs are seeded and deterministic on the CPU backend, so every
 * point's metrics.jsonl, accuracies and losses must match byte for byte):
 * - a worker killed by SIGKILL in the middle of a point: BullMQ's stalled-job check hands the
 *   point to the other worker, which resumes it from its checkpoint in the shared --store;
 * - Redis killed mid-sweep: the submitter stops with a clear error; after a restart the resumed
 *   sweep finishes without training any point twice or touching the ones already finished.
 * Timing: nothing sleeps for a fixed time against work; every wait polls a condition with a
 * bounded timeout, so a loaded machine is slower, not flaky.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inCI, RedisServer, redisMissing } from './redis.js';

const ROOT = resolve(__dirname, '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'ndcnn-sweepq-'));
const children: ChildProcess[] = [];
let redis: RedisServer | undefined;
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await redis?.stop('SIGKILL');
  rmSync(tmp, { recursive: true, force: true });
  if (redis) rmSync(redis.dir, { recursive: true, force: true });
});

/** The real executable; `out` accumulates stderr+stdout, `exit` resolves with the status. */
function cli(args: string[]) {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'experiments', 'cli.ts'), ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  const run = { child, out: '', exit: new Promise<number | null>((done) => child.on('exit', (code) => done(code))) };
  child.stdout.on('data', (c: Buffer) => (run.out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (run.out += c.toString()));
  return run;
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 300_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** 6 points: 3 seeds × 2 learning rates; 2 epochs of 30 steps, a checkpoint every 4 steps. */
function spec(name: string, seeds: number[]): string {
  const file = join(tmp, `${name}.json`);
  const flags = { 'max-train': 300, 'max-test': 100, epochs: 2, 'batch-size': 10, 'checkpoint-every': 4 };
  writeFileSync(file, JSON.stringify({ name, experiment: 'image2d', flags, grid: { seed: seeds, lr: [0.05, 0.1] } }));
  return file;
}

const STEPS = 60;
// Minutes, not seconds: on a shared, loaded 2-core machine each point's process takes ~10 s.
const TIMEOUT = 600_000;

const ids = (dir: string) => readdirSync(join(dir, 'runs')).filter((n) => !n.endsWith('.lock')).sort();
const file = (dir: string, id: string, name: string) => readFileSync(join(dir, 'runs', id, name), 'utf8');
const done = (dir: string) => (existsSync(join(dir, 'runs')) ? ids(dir).filter((id) => existsSync(join(dir, 'runs', id, 'summary.json'))) : []);
/** A summary without what legitimately differs between executors (its directory, the clock). */
const result = (dir: string, id: string) => {
  const { dir: _d, seconds: _s, ...rest } = JSON.parse(file(dir, id, 'summary.json'));
  return rest;
};
const steps = (dir: string, id: string) => file(dir, id, 'metrics.jsonl').split('\n').filter(Boolean).map((l) => JSON.parse(l)).filter((l) => l.kind === 'step').length;
/** report.json minus the times. */
const report = (dir: string) => JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')).map(({ seconds: _s, ...r }: { seconds: unknown }) => r);

function workers(store: string) {
  return [0, 1].map(() => cli(['worker', '--queue', (redis as RedisServer).url, '--store', store, '--stall-seconds', '2']));
}

async function stopAll(ws: ReturnType<typeof cli>[]) {
  for (const w of ws) w.child.kill('SIGTERM');
  await Promise.all(ws.map((w) => w.exit));
}

describe.skipIf(redisMissing !== null && !inCI)(`sweeps on BullMQ over a real Redis${redisMissing ? ` (skipped outside CI: ${redisMissing})` : ''}`, () => {
  beforeAll(async () => {
    redis = await RedisServer.start();
  });

  it('a worker killed (SIGKILL) mid-point: every point finishes exactly once, identical to the local pool', async () => {
    const file6 = spec('faults', [1, 2, 3]);
    const pool = join(tmp, 'pool');
    const local = cli(['sweep', file6, '--out', pool, '--workers', '2', '--quiet']);
    expect(await local.exit, local.out).toBe(0);
    expect(done(pool)).toHaveLength(6);

    const store = join(tmp, 'store');
    const sweepDir = join(tmp, 'queued');
    const ws = workers(store);
    const sub = cli(['sweep', file6, '--out', sweepDir, '--queue', (redis as RedisServer).url, '--quiet']);
    // Kill worker 0 once it trains a point that has a checkpoint and is less than half done.
    const total = STEPS;
    let victim = '';
    await waitFor('worker 0 to be in the middle of a point', () => {
      const m = [...ws[0].out.matchAll(/point (\w+) \(.*\): training/g)].at(-1);
      if (!m) return false;
      const dir = join(store, 'runs', m[1]);
      if (!existsSync(join(dir, 'checkpoint.ckpt')) || existsSync(join(dir, 'summary.json'))) return false;
      const n = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').split('\n').length;
      if (n > total / 2) return false;
      victim = m[1];
      return true;
    });
    ws[0].child.kill('SIGKILL');
    await ws[0].exit;
    expect(await sub.exit, sub.out).toBe(0);
    await stopAll([ws[1]]);

    // The killed worker never finished its point; the other one resumed it from the checkpoint.
    expect(ws[0].out).not.toMatch(new RegExp(`${victim}.*trained`));
    expect(ws[1].out).toMatch(new RegExp(`point ${victim} .*resuming from its checkpoint`));
    // Every point once, each the local pool's run exactly: metrics (no times in them), results.
    expect(ids(sweepDir)).toEqual(ids(pool));
    for (const id of ids(pool)) {
      expect(steps(sweepDir, id)).toBe(total);
      expect(file(sweepDir, id, 'metrics.jsonl')).toBe(file(pool, id, 'metrics.jsonl'));
      expect(result(sweepDir, id)).toEqual(result(pool, id));
    }
    expect(report(sweepDir)).toEqual(report(pool));
    // And only trained to the end once each, across both workers.
    const log = ws[0].out + ws[1].out;
    for (const id of ids(pool)) expect(log.match(new RegExp(`point ${id} .*trained in`, 'g'))?.length ?? 0).toBe(1);
  }, TIMEOUT);

  it('Redis killed mid-sweep: a clear error, then a resumed sweep loses and reruns nothing', async () => {
    const r = redis as RedisServer;
    const file6 = spec('outage', [4, 5, 6]);
    const store = join(tmp, 'store2');
    const sweepDir = join(tmp, 'outage');
    const ws = workers(store);
    const sub = cli(['sweep', file6, '--out', sweepDir, '--queue', r.url, '--quiet']);
    await waitFor('two points to finish', () => done(sweepDir).length >= 2);
    await r.stop('SIGKILL');
    const status = await sub.exit;
    expect(status, sub.out).toBe(1);
    expect(sub.out).toMatch(new RegExp(`ndcnn: no answer from Redis at ${r.url} .*finished points are saved in ${sweepDir}; start Redis again and resume with: ndcnn sweep ${sweepDir} --queue ${r.url}`));
    const before = done(sweepDir);
    expect(before.length).toBeLessThan(6);
    const kept = new Map(before.map((id) => [id, { text: file(sweepDir, id, 'summary.json'), mtime: statSync(join(sweepDir, 'runs', id, 'summary.json')).mtimeMs }]));

    await r.restart();
    const again = cli(['sweep', sweepDir, '--queue', r.url, '--quiet']);
    expect(await again.exit, again.out).toBe(0);
    await stopAll(ws);
    expect(done(sweepDir)).toHaveLength(6);
    for (const [id, k] of kept) {
      expect(file(sweepDir, id, 'summary.json')).toBe(k.text);
      expect(statSync(join(sweepDir, 'runs', id, 'summary.json')).mtimeMs).toBe(k.mtime);
    }
    const log = ws[0].out + ws[1].out;
    for (const id of done(sweepDir)) {
      expect(log.match(new RegExp(`point ${id} .*trained in`, 'g'))?.length ?? 0, log).toBe(1);
      expect(steps(sweepDir, id)).toBe(STEPS);
    }
  }, TIMEOUT);
});
