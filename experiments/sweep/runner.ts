/**
 * One sweep point as a run directory: its state on disk, training it in a child process, and the
 * files that make up its result. Every executor (local pool, queue worker) goes through here, so
 * a point runs the same `ndcnn train` wherever it runs.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeFileAtomic } from '../../src/io/atomic.js';
import { CHECKPOINT_FILE } from '../resolve.js';
import type { RunSummary } from '../train.js';
import { PointLock } from './lock.js';

const HERE = fileURLToPath(import.meta.url);
const COMPILED = HERE.endsWith('.js');
const CHILD = join(dirname(HERE), COMPILED ? 'child.js' : 'child.ts');
/** From the sources (tsx, vitest) the child needs tsx to load TypeScript; compiled, plain node. */
const NODE_ARGS = COMPILED ? [] : ['--import', 'tsx'];
/** Exit status of a run that stopped on SIGINT with a checkpoint (cli.ts). */
export const EXIT_INTERRUPTED = 130;

export type PointState = 'done' | 'resumable' | 'fresh';

/** done: summary.json of a finished run; resumable: a checkpoint; fresh: nothing worth keeping. */
export function pointState(dir: string): PointState {
  const summary = readSummary(dir);
  if (summary && !summary.stopped) return 'done';
  return existsSync(join(dir, CHECKPOINT_FILE)) ? 'resumable' : 'fresh';
}

export function readSummary(dir: string): RunSummary | null {
  try {
    return JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as RunSummary;
  } catch {
    return null;
  }
}

export interface TrainOutcome {
  code: number | null;
  /** The child's last output line (its one-line error when it failed). */
  lastLine: string;
}

/** Another process trains this point right now (lock.ts). */
export class PointBusyError extends Error {
  override name = 'PointBusyError';
}

/**
 * Trains (or resumes) the point in `dir`, its output appended to `log`, holding the directory's
 * lock (lock.ts; PointBusyError if another process holds it). A fresh point's partial directory
 * (killed before its first checkpoint) is cleared first: train refuses to overwrite a run. One
 * BLAS thread per child: the pool's parallelism is its processes.
 */
export function trainPoint(args: string[], dir: string, log: string): { done: Promise<TrainOutcome>; kill: () => void } {
  mkdirSync(dirname(dir), { recursive: true });
  const lock = PointLock.acquire(dir);
  if (typeof lock === 'string') throw new PointBusyError(`${dir} is being trained by ${lock}`);
  try {
    return spawnTrain(args, dir, log, lock);
  } catch (e) {
    lock.release();
    throw e;
  }
}

function spawnTrain(args: string[], dir: string, log: string, lock: PointLock): { done: Promise<TrainOutcome>; kill: () => void } {
  const state = pointState(dir);
  if (state === 'fresh') rmSync(dir, { recursive: true, force: true });
  const argv = state === 'resumable' ? ['train', '--resume', dir, '--quiet'] : ['train', ...args, '--out', dir, '--quiet'];
  mkdirSync(dirname(log), { recursive: true });
  const fd = openSync(log, 'a');
  const child = spawn(process.execPath, [...NODE_ARGS, CHILD, ...argv], {
    stdio: ['pipe', fd, fd],
    // Its own process group: a Ctrl-C reaches it once, forwarded by kill(), never twice (a second
    // SIGINT makes train exit without its checkpoint).
    detached: true,
    env: { ...process.env, OPENBLAS_NUM_THREADS: '1' },
  });
  closeSync(fd);
  lock.addChild(child.pid);
  const done = new Promise<TrainOutcome>((resolve) => {
    child.on('error', (e) => resolve({ code: null, lastLine: e.message }));
    child.on('close', (code) => resolve({ code, lastLine: lastLine(log) }));
  }).finally(() => lock.release());
  return { done, kill: () => child.kill('SIGINT') };
}

function lastLine(file: string): string {
  const text = readFileSync(file, 'utf8');
  return (text.trimEnd().split('\n').at(-1) ?? '').replace(/^ndcnn: /, '');
}

/** The files of a finished run, as sent back through a queue (base64, so the checkpoint travels too). */
export type RunFiles = Record<string, string>;

export function collectRun(dir: string): RunFiles {
  const files: RunFiles = {};
  for (const name of readdirSync(dir)) {
    if (name.startsWith('.')) continue;
    files[name] = readFileSync(join(dir, name)).toString('base64');
  }
  return files;
}

/** Writes received run files into `dir`; summary.json last, since it marks the point done. */
export function writeRun(dir: string, files: RunFiles): void {
  mkdirSync(dir, { recursive: true });
  const names = Object.keys(files).filter((n) => n !== 'summary.json' && /^[\w.-]+$/.test(n) && !n.startsWith('.'));
  for (const name of names) writeFileAtomic(join(dir, name), Buffer.from(files[name], 'base64'));
  if (files['summary.json']) {
    const summary = JSON.parse(Buffer.from(files['summary.json'], 'base64').toString('utf8')) as RunSummary;
    writeFileAtomic(join(dir, 'summary.json'), `${JSON.stringify({ ...summary, dir }, null, 2)}\n`);
  }
}
