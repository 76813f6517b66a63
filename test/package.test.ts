/**
 * What users get: the README's TypeScript examples compile against the package name, and the
 * packed tarball works once installed. The tarball check (scripts/check-pack.sh: npm pack,
 * install into an empty project, import from Node ESM, type-check under NodeNext and Bundler,
 * run the bin, build the optional addon) needs the npm registry or a warm npm cache and about
 * two minutes, so it runs when NDCNN_PACK_CHECK=1 (.ci/run sets it) and is skipped, saying so,
 * otherwise.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const packCheck = process.env.NDCNN_PACK_CHECK === '1';

/**
 * Runs a command to its end without blocking the event loop: a spawnSync of a minute or more
 * starves vitest's worker RPC ("Timeout calling onTaskUpdate" on a loaded machine).
 */
function run(cmd: string, args: string[]): Promise<{ status: number | null; out: string }> {
  return new Promise((done, fail) => {
    const child = spawn(cmd, args, { cwd: ROOT, timeout: 900_000 });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', fail);
    child.on('close', (status) => done({ status, out }));
  });
}

describe('the README examples', () => {
  it('every ```ts block type-checks as a module importing from ndcnn', async () => {
    const r = await run(process.execPath, ['scripts/check-readme.mjs']);
    expect(r.out).toMatch(/check-readme: PASS, \d+ ts block/);
    expect(r.status, r.out).toBe(0);
  });
});

const packTitle = 'installs into an empty project and works from Node ESM, TypeScript (NodeNext, Bundler) and the bin';
const packSkip = ' (skipped: set NDCNN_PACK_CHECK=1 to run it; it needs the npm registry or its cache, ~2 min)';

describe('the packed tarball', () => {
  it.runIf(packCheck)(packCheck ? packTitle : packTitle + packSkip, async () => {
    const r = await run('bash', ['scripts/check-pack.sh']);
    for (const check of ['import from plain Node ESM and predict', 'type-check a TypeScript consumer (NodeNext)', 'type-check a TypeScript consumer (Bundler)', 'ndcnn --help from the installed bin']) {
      expect(r.out).toContain(`check-pack: PASS ${check}`);
    }
    expect(r.status, r.out).toBe(0);
  }, 900_000);
});
