/**
 * A sweep spec (JSON or YAML) and the points it expands to. The spec names an experiment, flags
 * fixed for every point, and a grid (the Cartesian product of value lists) and/or a seeded random
 * sample over `train`'s own flags (flags.ts), so a sweep accepts exactly what `train` accepts:
 *
 *   name: lr-seeds
 *   experiment: image2d
 *   flags: { epochs: 2, max-train: 500 }
 *   grid: { seed: [1, 2, 3], optimizer: [sgd, hf] }
 *   random: { count: 4, seed: 1, flags: { lr: { log-uniform: [0.01, 0.3] } } }
 *
 * Points are every random sample (or one empty sample) × every grid combination. A point's id is
 * a hash of the run's full resolved config (resolve.ts's newConfig, which with the data fixes
 * everything else), so the same run gets the same id in any sweep, on any machine.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { basename, extname } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { parseJson } from '../../src/io/json.js';
import { Rng } from '../../src/nd/rng.js';
import { UsageError } from '../errors.js';
import { camel, TRAIN_FLAGS, type TrainFlagName } from '../flags.js';
import { checkFlags, newConfig, type TrainFlags } from '../resolve.js';

export type FlagValue = string | number | boolean;

/** How a random sample draws one flag. */
export type Distribution =
  | { uniform: [number, number] }
  | { 'log-uniform': [number, number] }
  | { int: [number, number] }
  | { choice: FlagValue[] };

export interface SweepSpec {
  name: string;
  experiment: string;
  flags: Record<string, FlagValue>;
  grid: Record<string, FlagValue[]>;
  random: { count: number; seed: number; flags: Record<string, Distribution> } | null;
}

export interface SweepPoint {
  /** Hash of the resolved run config: the job's identity, and its run directory's name. */
  id: string;
  /** The flags that vary across the sweep (grid and random), for tables and logs. */
  label: Record<string, FlagValue>;
  /** `ndcnn train` arguments of a fresh run (without --out). */
  args: string[];
}

/** Flags the sweep itself sets for each point; a spec may not. */
const SWEEP_OWNED: Record<string, string> = {
  out: 'the sweep chooses each point\'s run directory (use the sweep\'s --out)',
  resume: 'the sweep resumes unfinished points by itself',
  'stop-after': 'a sweep point runs to its end',
  quiet: 'the sweep sets it',
  overwrite: 'a sweep never replaces a finished run (delete its directory to train it again)',
};
/** Flags that do not change what a run computes, so they stay out of its identity. */
const NOT_IDENTITY: (keyof ReturnType<typeof newConfig>['base'])[] = ['dataDir', 'checkpointEvery'];
const TOP_KEYS = ['name', 'experiment', 'flags', 'grid', 'random'];
/**
 * Points a spec may expand to unless `--max-points` raises it: each is a training run, so more is
 * almost surely a slip (a grid of 1000 × 1000 × 1000), and they are counted before any is made.
 */
export const MAX_POINTS = 10_000;
/** A spec is a few hundred bytes; larger files are refused before a parser sees them. */
export const MAX_SPEC_BYTES = 1 << 20;
/** Nesting of a valid spec: random → flags → flag → distribution → list is five levels. */
export const MAX_SPEC_DEPTH = 8;

const fail = (file: string, problem: string) => new UsageError(`${file}: ${problem}`);
const has = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

/** Reads and validates a spec file (.json, .yaml or .yml). */
export function loadSpec(file: string): SweepSpec {
  const size = statSync(file).size;
  if (size > MAX_SPEC_BYTES) throw fail(file, `${size} bytes; a sweep spec is at most ${MAX_SPEC_BYTES} (it lists flags and values, not data)`);
  const text = readFileSync(file, 'utf8');
  const json = extname(file) === '.json';
  let raw: unknown;
  try {
    // The yaml package refuses repeated keys and alias bombs itself; JSON.parse keeps the last of two keys, parseJson refuses them.
    raw = json ? parseJson(text, MAX_SPEC_DEPTH, (p) => new Error(p)) : parseYaml(text);
  } catch (e) {
    const message = (e as Error).message.split('\n')[0];
    const problem = /Maximum call stack size exceeded/.test(message) ? `nests deeper than the parser can follow (a spec needs ${MAX_SPEC_DEPTH - 3} levels)` : message;
    throw fail(file, `not valid ${json ? 'JSON' : 'YAML'}: ${problem}`);
  }
  return checkSpec(raw, file, basename(file, extname(file)));
}

/** Validates a parsed spec; `file` names it in errors, `defaultName` is used when it has no name. */
export function checkSpec(raw: unknown, file: string, defaultName: string): SweepSpec {
  if (!isRecord(raw)) throw fail(file, 'a sweep spec is a mapping with experiment, flags, grid and/or random');
  for (const k of Object.keys(raw)) if (!TOP_KEYS.includes(k)) throw fail(file, `unknown key '${k}' (known: ${TOP_KEYS.join(', ')})`);
  const name = raw.name ?? defaultName;
  if (typeof name !== 'string' || !/^[\w.-]+$/.test(name)) throw fail(file, `name must be letters, digits, '.', '_' or '-', got ${JSON.stringify(name)}`);
  if (typeof raw.experiment !== 'string') throw fail(file, 'experiment must name one (image2d, audio1d, mri3d)');
  const flags = mapping(raw.flags ?? {}, file, 'flags');
  for (const [k, v] of Object.entries(flags)) checkValue(k, v, file, `flags.${k}`);
  const grid: Record<string, FlagValue[]> = {};
  for (const [k, list] of Object.entries(mapping(raw.grid ?? {}, file, 'grid'))) {
    checkFlagName(k, file, `grid.${k}`);
    if (!Array.isArray(list)) throw fail(file, `grid.${k} must be a list of values`);
    if (list.length === 0) throw fail(file, `grid.${k} is empty: a grid axis needs at least one value`);
    list.forEach((v, i) => checkValue(k, v, file, `grid.${k}[${i}]`));
    if (new Set(list).size !== list.length) throw fail(file, `grid.${k} repeats a value`);
    grid[k] = list as FlagValue[];
  }
  const random = raw.random === undefined || raw.random === null ? null : checkRandom(raw.random, file);
  if (Object.keys(grid).length === 0 && random === null) throw fail(file, 'the grid is empty and there is no random sample: nothing to sweep');
  const varying = [...Object.keys(grid), ...Object.keys(random?.flags ?? {})];
  for (const k of varying) if (has(flags, k)) throw fail(file, `'${k}' is both fixed (flags) and swept`);
  if (new Set(varying).size !== varying.length) throw fail(file, 'a flag is swept by both the grid and the random sample');
  return { name, experiment: raw.experiment, flags: flags as Record<string, FlagValue>, grid, random };
}

function checkRandom(raw: unknown, file: string): NonNullable<SweepSpec['random']> {
  const r = mapping(raw, file, 'random');
  const count = r.count;
  if (!(Number.isInteger(count) && (count as number) >= 1)) throw fail(file, `random.count must be an integer ≥ 1, got ${JSON.stringify(count)}`);
  const seed = r.seed ?? 1;
  if (!(Number.isInteger(seed) && (seed as number) >= 0)) throw fail(file, `random.seed must be an integer ≥ 0, got ${JSON.stringify(seed)}`);
  const flags: Record<string, Distribution> = {};
  for (const [k, d] of Object.entries(mapping(r.flags, file, 'random.flags'))) {
    const where = `random.flags.${k}`;
    checkFlagName(k, file, where);
    const dist = mapping(d, file, where);
    const kinds = Object.keys(dist);
    if (kinds.length !== 1) throw fail(file, `${where} must be one of uniform, log-uniform, int, choice`);
    const [kind] = kinds;
    const arg = dist[kind];
    if (kind === 'choice') {
      if (!Array.isArray(arg) || arg.length === 0) throw fail(file, `${where}.choice must be a non-empty list`);
      arg.forEach((v, i) => checkValue(k, v, file, `${where}.choice[${i}]`));
    } else if (kind === 'uniform' || kind === 'log-uniform' || kind === 'int') {
      const ok = Array.isArray(arg) && arg.length === 2 && arg.every(Number.isFinite) && arg[0] <= arg[1];
      if (!ok) throw fail(file, `${where}.${kind} must be [low, high] with low ≤ high`);
      if (kind === 'log-uniform' && arg[0] <= 0) throw fail(file, `${where}.log-uniform needs low > 0`);
      if (kind === 'int' && !arg.every(Number.isInteger)) throw fail(file, `${where}.int needs integer bounds`);
      if (TRAIN_FLAGS[k as TrainFlagName].type !== 'number') throw fail(file, `${where}: --${k} is not a number flag`);
    } else {
      throw fail(file, `${where}: unknown distribution '${kind}' (known: uniform, log-uniform, int, choice)`);
    }
    flags[k] = dist as Distribution;
  }
  if (Object.keys(flags).length === 0) throw fail(file, 'random.flags is empty: name the flags to sample');
  return { count: count as number, seed: seed as number, flags };
}

function checkFlagName(k: string, file: string, where: string): void {
  // Own properties only: 'constructor' or '__proto__' from a spec is an unknown flag, not Object's.
  if (!has(TRAIN_FLAGS, k)) {
    const known = Object.keys(TRAIN_FLAGS).filter((f) => !has(SWEEP_OWNED, f));
    throw fail(file, `${where}: unknown flag '${k}' (train flags: ${known.join(', ')})`);
  }
  if (has(SWEEP_OWNED, k)) throw fail(file, `${where}: --${k} cannot be set in a sweep: ${SWEEP_OWNED[k]}`);
}

function checkValue(k: string, v: unknown, file: string, where: string): void {
  checkFlagName(k, file, where);
  const type = TRAIN_FLAGS[k as TrainFlagName].type;
  const ok = type === 'number' ? typeof v === 'number' && Number.isFinite(v) : typeof v === type;
  if (!ok) throw fail(file, `${where}: --${k} takes a ${type}, got ${JSON.stringify(v)}`);
}

/** How many points the spec expands to: random samples (or one) × the grid's combinations, counted without making them. */
export function countPoints(spec: SweepSpec): number {
  return Object.values(spec.grid).reduce((n, values) => n * values.length, spec.random?.count ?? 1);
}

/**
 * Every point of the spec, each checked by train's own flag checks before anything runs;
 * refused, before any point is made, when there are more than `maxPoints`.
 */
export function expand(spec: SweepSpec, file: string, maxPoints = MAX_POINTS): SweepPoint[] {
  const count = countPoints(spec);
  if (count > maxPoints) {
    const factors = [...(spec.random ? [`random.count ${spec.random.count}`] : []), ...Object.entries(spec.grid).map(([k, v]) => `${v.length} ${k}`)];
    throw fail(file, `expands to ${count} points (${factors.join(' × ')}), more than the limit of ${maxPoints}; raise it with --max-points if you mean it`);
  }
  const samples = spec.random ? drawSamples(spec.random) : [{}];
  let combos: Record<string, FlagValue>[] = [{}];
  for (const [k, values] of Object.entries(spec.grid)) combos = combos.flatMap((c) => values.map((v) => ({ ...c, [k]: v })));
  const points: SweepPoint[] = [];
  const seen = new Map<string, string>();
  for (const sample of samples) {
    for (const combo of combos) {
      const label = { ...sample, ...combo };
      // One thread a point unless the spec says otherwise: the workers already fill the cores,
      // and a point's identity must not depend on the machine it was expanded on.
      const all = { threads: 1, ...spec.flags, ...label };
      const describe = Object.entries(label).map(([k, v]) => `${k}=${v}`).join(' ');
      const flags: TrainFlags = { experiment: spec.experiment };
      for (const [k, v] of Object.entries(all)) (flags as Record<string, unknown>)[camel(k)] = v;
      let id: string;
      try {
        checkFlags(flags);
        id = identity(flags);
      } catch (e) {
        throw fail(file, `point ${describe}: ${(e as Error).message}`);
      }
      if (seen.has(id)) throw fail(file, `points ${seen.get(id)} and ${describe} are the same run`);
      seen.set(id, describe);
      points.push({ id, label, args: [spec.experiment, ...toArgs(all)] });
    }
  }
  return points;
}

/** The run's identity: a hash of its resolved config, without what does not change the result. */
export function identity(flags: TrainFlags): string {
  const { base, lr } = newConfig({ threads: 1, ...flags });
  const config: Record<string, unknown> = { ...base, lr };
  for (const k of NOT_IDENTITY) delete config[k];
  // One thread is what every run computed before threads existed: those points keep their identity.
  if (config.threads === 1) delete config.threads;
  // Likewise a run without the augmentations that came after the shift.
  if (Object.keys(config.augment ?? {}).length === 0) delete config.augment;
  return createHash('sha256').update(canonical(config)).digest('hex').slice(0, 16);
}

/** JSON with keys sorted at every level, so equal configs hash equally. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (isRecord(v)) return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`;
  return JSON.stringify(v);
}

function drawSamples(r: NonNullable<SweepSpec['random']>): Record<string, FlagValue>[] {
  const rng = new Rng(r.seed);
  return Array.from({ length: r.count }, () => {
    const s: Record<string, FlagValue> = {};
    for (const [k, d] of Object.entries(r.flags)) s[k] = draw(d, rng);
    return s;
  });
}

function draw(d: Distribution, rng: Rng): FlagValue {
  if ('choice' in d) return d.choice[rng.int(d.choice.length)];
  if ('int' in d) return d.int[0] + rng.int(d.int[1] - d.int[0] + 1);
  // Four significant digits: the value is shown in tables and passed on a command line.
  const round = (x: number) => Number(x.toPrecision(4));
  if ('uniform' in d) return round(d.uniform[0] + rng.uniform() * (d.uniform[1] - d.uniform[0]));
  const [lo, hi] = d['log-uniform'].map(Math.log);
  return round(Math.exp(lo + rng.uniform() * (hi - lo)));
}

function toArgs(flags: Record<string, FlagValue>): string[] {
  return Object.entries(flags).flatMap(([k, v]) => (typeof v === 'boolean' ? [v ? `--${k}` : `--no-${k}`] : [`--${k}`, String(v)]));
}

function mapping(v: unknown, file: string, where: string): Record<string, unknown> {
  if (!isRecord(v)) throw fail(file, `${where} must be a mapping of flag names`);
  return v;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
