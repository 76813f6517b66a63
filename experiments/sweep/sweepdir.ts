/**
 * A sweep directory: sweep.json (the spec and its points), runs/<id>/ (one ordinary run
 * directory per point, named by the point's identity), logs/<id>.log (the point's training
 * output). Resubmitting a spec into the same directory, or naming the directory itself as the
 * spec, reuses every finished point and resumes every checkpointed one.
 */
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../../src/io/atomic.js';
import { parseJson } from '../../src/io/json.js';
import { RunFileError, UsageError } from '../errors.js';
import { checkSpec, expand, loadSpec, MAX_SPEC_DEPTH, type SweepPoint, type SweepSpec } from './spec.js';

export const SWEEP_FILE = 'sweep.json';

export interface Sweep {
  dir: string;
  spec: SweepSpec;
  points: SweepPoint[];
}

export const runDir = (sweep: { dir: string }, id: string) => join(sweep.dir, 'runs', id);
export const logFile = (sweep: { dir: string }, id: string) => join(sweep.dir, 'logs', `${id}.log`);

/** The sweep a SPEC argument names: a spec file (new or resubmitted with --out) or a sweep directory; at most `maxPoints` points. */
export function openSweep(specOrDir: string, out: string | undefined, maxPoints?: number): Sweep {
  if (!existsSync(specOrDir)) throw new UsageError(`${specOrDir}: no such spec file or sweep directory`);
  if (statSync(specOrDir).isDirectory()) {
    if (out !== undefined && resolve(out) !== resolve(specOrDir)) throw new UsageError(`--out ${out}: a resumed sweep continues in its own directory ${specOrDir}`);
    const sweep = readSweep(specOrDir, 'current', maxPoints);
    writeFileAtomic(join(sweep.dir, SWEEP_FILE), `${JSON.stringify({ spec: sweep.spec, points: sweep.points }, null, 2)}\n`);
    return sweep;
  }
  const spec = loadSpec(specOrDir);
  const points = expand(spec, specOrDir, maxPoints);
  const dir = out !== undefined ? resolve(out) : newDir(spec.name);
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(join(dir, SWEEP_FILE), `${JSON.stringify({ spec, points }, null, 2)}\n`);
  return { dir, spec, points };
}

/**
 * Reads sweep.json back. `current` re-expands the spec with today's code, as a resumed sweep must:
 * if a default changed since, a point's resolved config (so its id) changed, and it is a new run.
 * `saved` keeps the points as they were run, which is what a report describes.
 */
export function readSweep(dir: string, points: 'saved' | 'current', maxPoints?: number): Sweep {
  const file = join(dir, SWEEP_FILE);
  if (!existsSync(file)) throw new UsageError(`${dir}: no ${SWEEP_FILE} here (not a sweep directory)`);
  // Read as strictly as a spec file: an edited sweep.json with a repeated key is ambiguous, not the last key's.
  const saved = parseJson(readFileSync(file, 'utf8'), MAX_SPEC_DEPTH + 1, (problem) => new RunFileError(file, problem)) as { spec?: unknown; points?: unknown } | null;
  if (typeof saved !== 'object' || saved === null) throw new RunFileError(file, 'should hold {spec, points}');
  const spec = checkSpec(saved.spec, file, 'sweep');
  if (points === 'current') return { dir: resolve(dir), spec, points: expand(spec, file, maxPoints) };
  if (!Array.isArray(saved.points) || !saved.points.every(isPoint)) throw new RunFileError(file, 'its points are not a list of {id, label, args}');
  return { dir: resolve(dir), spec, points: saved.points };
}

function isPoint(p: unknown): p is SweepPoint {
  const q = p as SweepPoint;
  return typeof q === 'object' && q !== null && /^[0-9a-f]{16}$/.test(String(q.id)) && typeof q.label === 'object' && Array.isArray(q.args);
}

function newDir(name: string): string {
  const stamp = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  let dir = resolve('sweeps', `${name}-${stamp}`);
  for (let k = 2; existsSync(dir); k++) dir = resolve('sweeps', `${name}-${stamp}-${k}`);
  return dir;
}
