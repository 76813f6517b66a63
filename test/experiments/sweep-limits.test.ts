/**
 * Hostile sweep specs (issue 22): points counted before any is made and refused above a limit
 * that `--max-points` raises, Object.prototype names as flags, repeated keys, alias bombs, deep
 * nesting and oversized files; each one line on stderr from the executable.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readSweep } from '../../experiments/sweep/sweepdir.js';
import { checkSpec, countPoints, expand, loadSpec, MAX_POINTS, MAX_SPEC_BYTES } from '../../experiments/sweep/spec.js';

const ROOT = resolve(__dirname, '..', '..');
const tmp = mkdtempSync(join(tmpdir(), 'ndcnn-sweep-limits-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const spec = (name: string, text: string) => {
  const file = join(tmp, name);
  writeFileSync(file, text);
  return file;
};
const range = (n: number, from = 1) => Array.from({ length: n }, (_, i) => i + from);

describe('points are counted before they are made', () => {
  it.each([
    ['a grid of 1000³', { seed: range(1000), epochs: range(1000), 'max-train': range(1000, 10) }, null, /expands to 1000000000 points \(1000 seed × 1000 epochs × 1000 max-train\), more than the limit of 10000; raise it with --max-points if you mean it/],
    ['random.count 1e9', { seed: [1] }, 1e9, /expands to 1000000000 points \(random\.count 1000000000 × 1 seed\)/],
    ['a grid of 101 × 100', { seed: range(101), epochs: range(100) }, null, /expands to 10100 points/],
    ['random.count 20 × a grid of 501', { seed: range(501) }, 20, /expands to 10020 points \(random\.count 20 × 501 seed\)/],
    ['2^60 points', Object.fromEntries(['seed', 'epochs', 'max-train', 'max-test', 'batch-size', 'split-seed'].map((k) => [k, range(1024)])), null, /expands to 1152921504606847000 points \(1024 seed × 1024 epochs × 1024 max-train × 1024 max-test × 1024 batch-size × 1024 split-seed\)/],
  ])('%s is refused without expanding', (_, grid, count, message) => {
    const s = checkSpec({ experiment: 'image2d', grid, random: count ? { count, flags: { lr: { uniform: [0.01, 0.1] } } } : undefined }, 'big.yaml', 'big');
    expect(() => expand(s, 'big.yaml')).toThrow(message);
  });

  it('the limit itself passes; --max-points moves it either way', () => {
    const s = checkSpec({ experiment: 'image2d', flags: { 'max-train': 50 }, grid: { seed: range(12) } }, 's.yaml', 's');
    expect(countPoints(s)).toBe(12);
    expect(expand(s, 's.yaml', 12)).toHaveLength(12);
    expect(() => expand(s, 's.yaml', 11)).toThrow(/expands to 12 points \(12 seed\), more than the limit of 11/);
    expect(MAX_POINTS).toBe(10_000);
  });
});

describe('hostile spec files', () => {
  it.each(['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'])('a flag named %s is an unknown flag, in the grid, the fixed flags and the random sample', (name) => {
    const unknown = new RegExp(`unknown flag '${name}' \\(train flags: dataset, `);
    expect(() => loadSpec(spec('p1.yaml', `experiment: image2d\ngrid:\n  ${name}: [1, 2]\n`))).toThrow(unknown);
    expect(() => loadSpec(spec('p2.json', `{"experiment": "image2d", "flags": {"${name}": 1}, "grid": {"seed": [1]}}`))).toThrow(unknown);
    expect(() => loadSpec(spec('p3.yaml', `experiment: image2d\nrandom: { count: 2, flags: { ${name}: { uniform: [0, 1] } } }\n`))).toThrow(unknown);
  });

  it.each([
    ['a repeated key in JSON', 'd.json', '{"experiment": "image2d", "grid": {"seed": [1, 2]}, "grid": {"seed": [3]}}', /d\.json: not valid JSON: key "grid" appears twice in one object/],
    ['a repeated flag in JSON', 'e.json', '{"experiment": "image2d", "grid": {"seed": [1, 2], "seed": [3]}}', /e\.json: not valid JSON: key "seed" appears twice/],
    ['a repeated key in YAML', 'd.yaml', 'experiment: image2d\ngrid: { seed: [1] }\ngrid: { seed: [2] }\n', /d\.yaml: not valid YAML: Map keys must be unique/],
    ['a YAML alias bomb', 'bomb.yaml', ['a: &a [x, x, x, x, x, x, x, x, x]', ...'bcdefghi'.split('').map((c, i) => `${c}: &${c} [${new Array(9).fill(`*${'abcdefghi'[i]}`).join(', ')}]`)].join('\n'), /bomb\.yaml: not valid YAML: Excessive alias count indicates a resource exhaustion attack/],
    ['YAML nested 5000 deep', 'deep.yaml', `experiment: image2d\ngrid: ${'['.repeat(5000)}${']'.repeat(5000)}\n`, /deep\.yaml: not valid YAML: nests deeper than the parser can follow/],
    ['JSON nested 9 deep', 'deep.json', `{"experiment": "image2d", "grid": {"seed": ${'['.repeat(7)}1${']'.repeat(7)}}}`, /deep\.json: not valid JSON: nests objects and arrays more than 8 deep/],
    ['a spec over 1 MiB', 'huge.yaml', `experiment: image2d\n# ${'x'.repeat(MAX_SPEC_BYTES)}\ngrid: { seed: [1] }\n`, new RegExp(`huge\\.yaml: \\d+ bytes; a sweep spec is at most ${MAX_SPEC_BYTES} \\(it lists flags and values, not data\\)`)],
  ])('%s', (_, name, text, message) => {
    expect(() => loadSpec(spec(name, text))).toThrow(message);
  });
});

describe('a sweep directory\'s sweep.json, edited', () => {
  const dir = (name: string, text: string) => {
    const d = join(tmp, name);
    mkdirSync(d, { recursive: true });
    writeFileSync(join(d, 'sweep.json'), text);
    return d;
  };
  const good = '{"spec": {"name": "s", "experiment": "image2d", "grid": {"seed": [1, 2]}}, "points": []}';
  it.each([
    ['a repeated key in the spec', good.replace('"grid"', '"grid": {"seed": [1]}, "grid"'), /sweep\.json: key "grid" appears twice in one object/],
    ['a repeated top-level key', good.replace('"points"', '"spec": {}, "points"'), /sweep\.json: key "spec" appears twice in one object/],
    ['nesting deeper than a spec', good.replace('[1, 2]', '[[[[[[[1]]]]]]]'), /sweep\.json: .*nest/],
    ['not JSON', '{"spec": ', /sweep\.json: not JSON/],
    ['not an object', 'null', /sweep\.json: should hold \{spec, points\}/],
  ])('%s is refused naming the file', (name, text, message) => {
    expect(() => readSweep(dir(name.replace(/\W+/g, '-'), text), 'current')).toThrow(message);
  });
  it('the same file without the edit reads', () => {
    expect(readSweep(dir('good', good), 'current').points).toHaveLength(2);
  });
});

describe('ndcnn sweep: one line on stderr', () => {
  const cli = (...args: string[]) =>
    new Promise<{ status: number | null; stderr: string }>((done) => {
      const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'experiments', 'cli.ts'), ...args], { cwd: ROOT });
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('close', (status) => done({ status, stderr }));
    });

  it('a grid over the limit, --max-points below the points, and a bad --max-points', async () => {
    const big = spec('big.yaml', `experiment: image2d\ngrid:\n  seed: [${range(1000)}]\n  epochs: [${range(1000)}]\n  max-train: [${range(1000, 10)}]\n`);
    const small = spec('small.yaml', 'experiment: image2d\ngrid: { seed: [1, 2, 3] }\n');
    const out = join(tmp, 'never');
    const runs = await Promise.all([cli('sweep', big, '--out', out), cli('sweep', small, '--max-points', '2', '--out', out), cli('sweep', small, '--max-points', '0', '--out', out)]);
    expect(runs.map((r) => r.stderr)).toEqual([
      `ndcnn: ${big}: expands to 1000000000 points (1000 seed × 1000 epochs × 1000 max-train), more than the limit of 10000; raise it with --max-points if you mean it\n`,
      `ndcnn: ${small}: expands to 3 points (3 seed), more than the limit of 2; raise it with --max-points if you mean it\n`,
      'ndcnn: --max-points must be an integer ≥ 1, got 0\n',
    ]);
    expect(runs.map((r) => r.status)).toEqual([2, 2, 2]);
  });
});
