/**
 * `ndcnn sweep` without a server: the spec's checks (train's own flags, clear errors), points and
 * their identities, the seeded random sample, the report's statistics, and a small sweep on the
 * local pool run through the real executable — resubmitted, it trains nothing again.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stat } from '../../experiments/sweep/report.js';
import { checkSpec, expand, identity, loadSpec } from '../../experiments/sweep/spec.js';

const ROOT = resolve(__dirname, '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'ndcnn-sweep-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const base = { experiment: 'image2d', flags: { epochs: 1 }, grid: { seed: [1, 2] } };
const check = (raw: unknown) => checkSpec(raw, 'spec.yaml', 'x');
const points = (raw: unknown) => expand(check(raw), 'spec.yaml');

describe('sweep spec', () => {
  it.each([
    [{ ...base, grid: { lrate: [0.1] } }, /spec.yaml: grid.lrate: unknown flag 'lrate' \(train flags: dataset, .*batch-size/],
    [{ ...base, grid: { lr: [] } }, /grid.lr is empty/],
    [{ experiment: 'image2d', flags: { epochs: 1 } }, /the grid is empty and there is no random sample: nothing to sweep/],
    [{ ...base, grid: { lr: ['fast'] } }, /grid.lr\[0\]: --lr takes a number, got "fast"/],
    [{ ...base, flags: { out: 'x' } }, /flags.out: --out cannot be set in a sweep/],
    [{ ...base, flags: { seed: 3 } }, /'seed' is both fixed \(flags\) and swept/],
    [{ ...base, grids: {} }, /unknown key 'grids'/],
    [{ ...base, grid: { seed: [1, 1] } }, /grid.seed repeats a value/],
    [{ ...base, random: { count: 2, flags: { lr: { normal: [0, 1] } } } }, /random.flags.lr: unknown distribution 'normal'/],
    [{ ...base, random: { count: 0, flags: { lr: { uniform: [0, 1] } } } }, /random.count must be an integer ≥ 1/],
    [{ ...base, random: { count: 2, flags: { lr: { 'log-uniform': [0, 1] } } } }, /log-uniform needs low > 0/],
  ])('refuses %j', (raw, message) => {
    expect(() => check(raw)).toThrow(message);
  });

  it("checks every point with train's own checks before anything runs", () => {
    expect(() => points({ ...base, grid: { 'batch-size': [8, 0] } })).toThrow(/point batch-size=0: --batch-size must be an integer ≥ 1, got 0/);
    expect(() => points({ ...base, flags: { optimizer: 'hf' }, grid: { lr: [0.1] } })).toThrow(/point lr=0.1: --lr .*hf has none/);
    expect(() => points({ ...base, experiment: 'image3d' })).toThrow(/unknown experiment 'image3d'/);
  });

  it('expands the grid as a product, each point with train arguments', () => {
    const p = points({ ...base, grid: { seed: [1, 2, 3], optimizer: ['sgd', 'hf'] } });
    expect(p).toHaveLength(6);
    expect(p[1].label).toEqual({ seed: 1, optimizer: 'hf' });
    // One thread a point unless the spec says otherwise.
    expect(p[1].args).toEqual(['image2d', '--threads', '1', '--epochs', '1', '--seed', '1', '--optimizer', 'hf']);
    expect(new Set(p.map((q) => q.id)).size).toBe(6);
  });

  it('identity is a hash of the resolved config: defaults spelled out or not, key order, data location and checkpoint cadence do not change it', () => {
    const id = identity({ experiment: 'image2d', epochs: 2, lr: 0.1 });
    expect(identity({ lr: 0.1, epochs: 2, experiment: 'image2d', seed: 1, optimizer: 'sgd', dataset: 'mnist' })).toBe(id);
    expect(identity({ experiment: 'image2d', epochs: 2, lr: 0.1, checkpointEvery: 5 })).toBe(id);
    const fashion = { experiment: 'image2d', dataset: 'fashion-mnist', epochs: 2 };
    expect(identity({ ...fashion, dataDir: '/elsewhere' })).toBe(identity(fashion));
    expect(identity({ experiment: 'image2d', epochs: 2, lr: 0.2 })).not.toBe(id);
    expect(identity({ experiment: 'image2d', epochs: 2, lr: 0.1, seed: 2 })).not.toBe(id);
    // One thread is the default and leaves the identity as it was before threads existed; two change the result's bits.
    expect(identity({ experiment: 'image2d', epochs: 2, lr: 0.1, threads: 1 })).toBe(id);
    expect(identity({ experiment: 'image2d', epochs: 2, lr: 0.1, threads: 2 })).not.toBe(id);
    // Two spellings of one run are one point.
    expect(() => points({ ...base, grid: { optimizer: ['sgd'], seed: [1] }, random: { count: 2, flags: { epochs: { choice: [1] } } }, flags: {} })).toThrow(/are the same run/);
  });

  it('the random sample is seeded, within its bounds, and combined with every grid point', () => {
    const spec = (seed: number) => ({ ...base, random: { count: 5, seed, flags: { lr: { 'log-uniform': [0.01, 0.3] }, 'batch-size': { int: [8, 12] } } } });
    const a = points(spec(1));
    expect(a).toHaveLength(10);
    expect(points(spec(1))).toEqual(a);
    expect(points(spec(2)).map((p) => p.id)).not.toEqual(a.map((p) => p.id));
    for (const p of a) {
      expect(p.label.lr).toBeGreaterThanOrEqual(0.01);
      expect(p.label.lr).toBeLessThanOrEqual(0.3);
      expect([8, 9, 10, 11, 12]).toContain(p.label['batch-size']);
    }
  });

  it('reads YAML and JSON to the same points; a malformed file is named', () => {
    const yaml = join(tmp, 's.yaml');
    const json = join(tmp, 's.json');
    writeFileSync(yaml, 'experiment: image2d\nflags:\n  epochs: 1\ngrid:\n  seed: [1, 2]\n  lr: [0.05, 0.1]\n');
    writeFileSync(json, JSON.stringify({ experiment: 'image2d', flags: { epochs: 1 }, grid: { seed: [1, 2], lr: [0.05, 0.1] } }));
    expect(expand(loadSpec(yaml), yaml).map((p) => p.id)).toEqual(expand(loadSpec(json), json).map((p) => p.id));
    const bad = join(tmp, 'bad.yaml');
    writeFileSync(bad, 'grid: [1, 2\n');
    expect(() => loadSpec(bad)).toThrow(/bad.yaml: not valid YAML/);
  });
});

describe('sweep report statistics', () => {
  it('mean and sample standard deviation (n − 1)', () => {
    expect(stat([1, 2, 3])).toEqual({ mean: 2, std: 1, n: 3 });
    expect(stat([0.5])).toEqual({ mean: 0.5, std: 0, n: 1 });
    // Var of {2,4,4,4,5,5,7,9} with n − 1: 32/7.
    expect(stat([2, 4, 4, 4, 5, 5, 7, 9]).std).toBeCloseTo(Math.sqrt(32 / 7), 12);
  });
});

describe('ndcnn sweep on the local pool', () => {
  /** The real executable, asynchronously (a blocking spawnSync would starve vitest's own RPC). */
  const cli = (...args: string[]) =>
    new Promise<{ status: number | null; stdout: string; stderr: string }>((done) => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'experiments', 'cli.ts'), ...args], { cwd: ROOT });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('close', (status) => done({ status, stdout, stderr }));
    });

  it('runs each point as an ordinary run directory, reports mean ± std, and a resubmission trains nothing', async () => {
    const spec = join(tmp, 'pool.yaml');
    writeFileSync(spec, 'name: pool\nexperiment: image2d\nflags: { max-train: 60, max-test: 40, epochs: 2, batch-size: 20 }\ngrid:\n  seed: [1, 2]\n');
    const out = join(tmp, 'pool');
    const r = await cli('sweep', spec, '--out', out, '--workers', '2', '--quiet');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/sweep: 2 done, 0 running, 0 failed, 0 queued/);
    const runs = readdirSync(join(out, 'runs')).sort();
    expect(runs).toHaveLength(2);
    const acc = runs.map((id) => JSON.parse(readFileSync(join(out, 'runs', id, 'summary.json'), 'utf8')).test['held-out'].accuracy as number);
    const s = stat(acc);
    // The table's row is these two runs' mean ± std, in percent to two decimals.
    expect(r.stdout).toContain(`| all | 2 | ${(100 * s.mean).toFixed(2)} ± ${(100 * s.std).toFixed(2)} |`);
    const curves = readFileSync(join(out, 'curves.svg'), 'utf8');
    expect(curves).toMatch(/<polygon points="[^"]+" fill="#d62728" fill-opacity="0.18"/);
    expect(readFileSync(join(out, 'accuracy.svg'), 'utf8')).toMatch(/<circle cx="[\d.]+" cy="[\d.]+" r="4"/);
    // An ordinary run directory: eval reads it unchanged.
    const ev = await cli('eval', join(out, 'runs', runs[0]));
    expect(ev.status, ev.stderr).toBe(0);
    expect(ev.stdout).toMatch(/held-out: accuracy/);

    const mtimes = runs.map((id) => statSync(join(out, 'runs', id, 'metrics.jsonl')).mtimeMs);
    const again = await cli('sweep', out, '--quiet');
    expect(again.status, again.stderr).toBe(0);
    expect(again.stderr.match(/: done earlier/g)).toHaveLength(2);
    expect(runs.map((id) => statSync(join(out, 'runs', id, 'metrics.jsonl')).mtimeMs)).toEqual(mtimes);
    const report = await cli('sweep', 'report', out);
    expect(report.stdout).toBe(r.stdout);
  });

  it('a point that fails does not stop the others: its reason, the report of the rest, exit status 1', async () => {
    const spec = join(tmp, 'diverge.yaml');
    writeFileSync(spec, 'experiment: image2d\nflags: { max-train: 60, max-test: 40, epochs: 1, batch-size: 20 }\ngrid:\n  lr: [0.05, 1e30]\n');
    const out = join(tmp, 'diverge');
    const r = await cli('sweep', spec, '--out', out, '--workers', '2', '--quiet');
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/\(lr=1e\+30\): failed training diverged at step \d+/);
    expect(r.stderr.trimEnd().split('\n').at(-1)).toMatch(/^ndcnn: 1 of 2 points failed \(first: \w+: training diverged .*\); logs in .*; fix and resume with: ndcnn sweep /);
    expect(r.stdout).toMatch(/\| lr=0.05 \| 1 \| [\d.]+ \|/);
    expect(r.stdout).toContain('| lr=1e+30 | 0 of 1 | – |');
  });

  it('a bad spec is one line on stderr and exit status 2', async () => {
    const spec = join(tmp, 'bad.json');
    writeFileSync(spec, JSON.stringify({ experiment: 'image2d', grid: { learning_rate: [0.1] } }));
    const r = await cli('sweep', spec);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^ndcnn: .*bad.json: grid.learning_rate: unknown flag 'learning_rate' \(train flags: .*\)\n$/);
  });
});
