/**
 * First against second order side by side: SGD, Adam, Hessian-free (Martens' diagonal CG
 * preconditioner, and K-FAC's: `hf-kfac`) and K-FAC on the same network, data and budget, over
 * seeds. Prints the training loss (on a fixed subset of up to 2,000 training examples) against
 * passes over the training data and optimizer seconds, the held-out accuracy at the end, and how
 * many passes and seconds each optimizer needed to reach the others' final losses.
 *
 *   npx tsx bench/hf-vs-sgd.ts [--passes P | --seconds S] [--seeds 1,2,3] [--problem PREFIX]
 *     [--optimizers sgd,adam,...] [--set OPT.KEY=V1,V2,...]... [--out FILE]
 *
 * The budget is passes over the training set (`--passes`, default 5) or optimizer wall time
 * (`--seconds`); both are recorded along every curve either way. A pass counts samples pushed
 * through a backward pass: the mini-batch's gradient (SGD, Adam); plus, for K-FAC, the sampled-
 * target backward pass of a factor update (one per sample); plus, for HF, every Gauss-Newton
 * product on the curvature batch (CG's iterations and the warm start's) and, for hf-kfac, the
 * sampled-target pass of its preconditioner. Forward-only loss evaluations (HF's backtracking and
 * line search) are not counted; the seconds count everything. Every network runs on one thread
 * (the optimizers compare on the same core), float32, OpenBLAS where it loaded.
 *
 * Settings: each optimizer's (batch size and options) are below, per problem where tuning chose
 * differently; `--set kfac.damping=0.1,0.3 --set kfac.klClip=1e-3,3e-3` runs every combination
 * instead (the tuning grids and their commands are in README "Hessian-free vs SGD").
 * A seed sets the initial weights (Network `seed`) and the batch order (the MiniBatches Rng).
 * Tables: mean ± sample standard deviation over the seeds. Writes `--out` (default
 * bench/results/hf-vs-sgd.json) whole at the end.
 */
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { subset, type LabeledSet } from '../datasets/dataset.js';
import { loadMnist } from '../datasets/mnist.js';
import { randomSplit } from '../datasets/splits.js';
import { audio1d } from '../experiments/audio1d.js';
import { mri3d } from '../experiments/mri3d.js';
import { activation, batchNorm, conv, dense, flatten, globalAvgPool, maxPool, type LayerSpec } from '../src/layers/index.js';
import { Network } from '../src/network/index.js';
import { cpuBackend } from '../src/nd/backends/cpu/index.js';
import type { Batch } from '../src/nd/model.js';
import { Rng } from '../src/nd/rng.js';
import { createOptimizer, MiniBatches, type HfReport, type KfacReport, type Optimizer, type StepReport } from '../src/optim/index.js';

function fail(message: string): never {
  console.error(`hf-vs-sgd: ${message}`);
  process.exit(2);
}

const { values: flags } = (() => {
  try {
    return parseArgs({
      options: {
        seconds: { type: 'string' }, passes: { type: 'string' }, seeds: { type: 'string', default: '1,2,3' }, problem: { type: 'string' },
        optimizers: { type: 'string' }, set: { type: 'string', multiple: true, default: [] }, out: { type: 'string', default: 'bench/results/hf-vs-sgd.json' },
      },
    });
  } catch (e) {
    return fail((e as Error).message);
  }
})();
function positive(name: string, text: string): number {
  const v = Number(text);
  if (!(Number.isFinite(v) && v > 0)) fail(`--${name} must be a positive number, got '${text}'`);
  return v;
}
if (flags.seconds !== undefined && flags.passes !== undefined) fail('give either --seconds or --passes, not both');
const budget = flags.seconds !== undefined
  ? { unit: 'seconds' as const, amount: positive('seconds', flags.seconds) }
  : { unit: 'passes' as const, amount: flags.passes === undefined ? 5 : positive('passes', flags.passes) };
const seeds = flags.seeds.split(',').map((t) => {
  if (!/^\s*\d+\s*$/.test(t)) fail(`--seeds must be comma-separated non-negative integers, got '${flags.seeds}'`);
  return Number(t);
});

// ---------------------------------------------------------------------------------------------
// Data: each set loaded once, on first use.

interface Data { train: LabeledSet; test: LabeledSet; eval: Batch }
const EVAL = 2000;
const loaders: Record<string, () => { train: LabeledSet; test: LabeledSet }> = {
  // 8,000 training and 2,000 held-out MNIST digits.
  mnist: () => {
    const all = loadMnist();
    const split = randomSplit(all.labels.length, 2000, 1);
    return { train: subset(all, split.train), test: subset(all, split.test) };
  },
  // FSDD, a random 20 % held out, as 40-band log-mel spectrograms [40, 101] (audio1d's front end).
  fsdd: () => {
    const d = audio1d.load({ dataset: 'fsdd', split: 'random', splitSeed: 1, data: { ...audio1d.dataDefaults } });
    return { train: d.train, test: Object.values(d.tests)[0] };
  },
  // 16³ T1 patches with x, y, z channels, held-out spatial blocks (mri3d's data): 7 lobes.
  mri: () => {
    const d = mri3d.load({ dataset: 'mri', split: 'blocks', splitSeed: 1, data: { ...mri3d.dataDefaults } });
    return { train: d.train, test: Object.values(d.tests)[0] };
  },
};
const loaded = new Map<string, Data>();
function data(name: string): Data {
  let d = loaded.get(name);
  if (!d) {
    const { train, test } = loaders[name]();
    const n = train.labels.length;
    const ev = subset(train, new Rng(2).permutation(n).subarray(0, Math.min(EVAL, n)));
    d = { train, test, eval: { x: ev.inputs, y: ev.labels, n: ev.labels.length } };
    loaded.set(name, d);
  }
  return d;
}

// ---------------------------------------------------------------------------------------------
// Optimizers and their settings.

const OPTIMIZERS = ['sgd', 'adam', 'hf', 'hf-kfac', 'kfac'] as const;
type OptName = (typeof OPTIMIZERS)[number];
type Options = Record<string, unknown>;
interface Setting { batchSize: number; options: Options }

/**
 * The settings every problem starts from (tuning per problem: Problem.tuned). On the two LeNet
 * problems, seed 0 (not one of the reported seeds), 5 passes, by final training loss, in rounds:
 * 1. batch 64: SGD's lr from {0.01, 0.02, 0.05, 0.1, 0.2, 0.4}, Adam's from {1e-4, 3e-4, 1e-3,
 *    3e-3, 1e-2, 3e-2}, K-FAC's damping × klClip from {0.03, 0.1, 0.3, 1} × {3e-4, 1e-3, 1e-2}
 *    (9 of the 12; damping 0.3 won);
 * 2. K-FAC's inverseEvery × factorEvery from {5, 20, 50} × {5, 10, 20} (no clear winner: kept);
 * 3. batch {32, 128}: SGD × lr {0.02, 0.05, 0.1}, Adam × lr {1e-3, 3e-3, 1e-2}; K-FAC batch
 *    {32, 128, 256} × klClip {1e-4, 3e-4, 1e-3, 3e-3} (9 of the 12).
 * HF's are the earlier runs' settings, untuned here; hf-kfac takes HF's.
 */
const SETTINGS: Record<OptName, Setting> = {
  sgd: { batchSize: 64, options: { lr: 0.05, momentum: 'classic' } },
  adam: { batchSize: 32, options: { lr: 1e-2 } },
  hf: { batchSize: 1000, options: { curvatureBatch: 250, maxCgIterations: 50 } },
  'hf-kfac': { batchSize: 1000, options: { curvatureBatch: 250, maxCgIterations: 50, preconditioner: 'kfac' } },
  kfac: { batchSize: 128, options: { lr: 1, damping: 0.3, klClip: 1e-3, factorEvery: 10, inverseEvery: 50 } },
};

function makeOptimizer(name: OptName, options: Options): Optimizer {
  return name === 'hf-kfac' ? createOptimizer('hf', options) : createOptimizer(name, options as never);
}

/** Samples through a backward pass in this step (see the header). */
function cost(name: OptName, r: StepReport, b: Batch, s: Setting): number {
  if (name === 'hf' || name === 'hf-kfac') {
    const cb = Math.min(b.n, (s.options.curvatureBatch as number | undefined) ?? b.n);
    return b.n + ((r as HfReport).cgIterations + 1) * cb + (name === 'hf-kfac' ? b.n : 0);
  }
  if (name === 'kfac') return b.n * ((r as KfacReport).factors ? 2 : 1);
  return b.n;
}

// ---------------------------------------------------------------------------------------------
// Problems.

interface Problem {
  data: keyof typeof loaders;
  specs: LayerSpec[];
  tuned?: Partial<Record<OptName, { batchSize?: number; options?: Options }>>;
}

const problems: Record<string, Problem> = {
  'LeNet-like (relu)': {
    data: 'mnist',
    specs: [
      conv({ channels: 8, kernel: 5, activation: 'relu' }), maxPool({ window: 2 }),
      conv({ channels: 16, kernel: 5, activation: 'relu' }), maxPool({ window: 2 }),
      flatten(), dense({ units: 10 }),
    ],
    tuned: { sgd: { batchSize: 32, options: { lr: 0.02 } }, kfac: { options: { klClip: 3e-3 } } },
  },
  // The same with batch norm before each ReLU: an ordinary, well-conditioned modern CNN, and
  // HF's exact curvature through the batch statistics.
  'LeNet-like with batch norm': {
    data: 'mnist',
    specs: [
      conv({ channels: 8, kernel: 5 }), batchNorm(), activation('relu'), maxPool({ window: 2 }),
      conv({ channels: 16, kernel: 5 }), batchNorm(), activation('relu'), maxPool({ window: 2 }),
      flatten(), dense({ units: 10 }),
    ],
  },
  // A narrow convolution, then five narrow sigmoid layers: gradients shrink layer by layer and
  // the curvature is badly scaled across depth (Glorot & Bengio 2010; Martens 2010 §5), which
  // first-order steps handle poorly.
  'deep narrow (conv + 5× dense 32, sigmoid)': {
    data: 'mnist',
    specs: [
      conv({ channels: 4, kernel: 5, stride: 2, activation: 'sigmoid' }), flatten(),
      ...Array.from({ length: 5 }, () => dense({ units: 32, activation: 'sigmoid' as const })),
      dense({ units: 10 }),
    ],
  },
  // 1-D over time on log-mel spectrograms: three 5-wide convolutions with batch norm, the mean
  // over the remaining frames, the classifier (a smaller cousin of audio1d's residual net).
  'FSDD 1-D (log-mel, 3 conv + bn)': {
    data: 'fsdd',
    specs: [
      conv({ channels: 32, kernel: 5, padding: 2, bias: false }), batchNorm(), activation('relu'), maxPool({ window: 2 }),
      conv({ channels: 48, kernel: 5, padding: 2, bias: false }), batchNorm(), activation('relu'), maxPool({ window: 2 }),
      conv({ channels: 64, kernel: 5, padding: 2, bias: false }), batchNorm(), activation('relu'),
      globalAvgPool(), dense({ units: 10 }),
    ],
    // Seed 0, 5 passes: SGD batch {32, 64} × lr {0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.4}, Adam
    // batch {32, 64} × lr {1e-3, 3e-3, 1e-2}, K-FAC batch {64, 128} × damping {0.03, 0.1, 0.3, 1}
    // × klClip {1e-3, 3e-3}.
    tuned: {
      sgd: { batchSize: 32, options: { lr: 0.02 } }, adam: { batchSize: 32, options: { lr: 3e-3 } },
      kfac: { batchSize: 64, options: { damping: 0.03, klClip: 1e-3 } },
    },
  },
  // mri3d's network without its dropout: two padded 3×3×3 convolutions with batch norm and
  // pooling, a hidden dense layer, the lobe.
  'MRI 3-D (16³ patches, 2 conv + bn)': {
    data: 'mri',
    specs: [
      conv({ channels: 8, kernel: 3, padding: 1, bias: false }), batchNorm(), activation('relu'), maxPool({ window: 2 }),
      conv({ channels: 16, kernel: 3, padding: 1, bias: false }), batchNorm(), activation('relu'), maxPool({ window: 2 }),
      flatten(), dense({ units: 64, bias: false }), batchNorm(), activation('relu'), dense({ units: 7 }),
    ],
    // Seed 0, 5 passes, a smaller grid (a run costs several FSDD runs): SGD batch 32 × lr {0.02, 0.05,
    // 0.1}, Adam batch 32 × lr {1e-3, 3e-3}, K-FAC batch 64 × damping {0.03, 0.1}, klClip 1e-3.
    tuned: {
      sgd: { batchSize: 32, options: { lr: 0.05 } }, adam: { batchSize: 32, options: { lr: 1e-3 } },
      kfac: { batchSize: 64, options: { damping: 0.1, klClip: 1e-3 } },
    },
  },
};

// ---------------------------------------------------------------------------------------------
// One run.

interface Point { passes: number; seconds: number; loss: number }
interface Run { curve: Point[]; accuracy: number; steps: number; seconds: number; passes: number; loss: number }
const POINTS = 25;

function accuracy(net: Network, test: LabeledSet): number {
  const k = test.classes.length;
  const out = net.predict(test.inputs, test.labels.length);
  let right = 0;
  for (let i = 0; i < test.labels.length; i++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (out[i * k + j] > out[i * k + best]) best = j;
    if (best === test.labels[i]) right++;
  }
  return right / test.labels.length;
}

function run(problem: Problem, name: OptName, s: Setting, seed: number): Run {
  const d = data(problem.data);
  const shape = d.train.shape.slice(1);
  const net = new Network(cpuBackend('float32'), shape, problem.specs, { seed, threads: 1 });
  const opt = makeOptimizer(name, s.options);
  const sampleSize = shape.reduce((a, b) => a * b, 1);
  const n = d.train.labels.length;
  const batches = new MiniBatches({ x: d.train.inputs, y: d.train.labels, sampleSize }, Math.min(s.batchSize, n), new Rng(seed));
  const curve: Point[] = [{ passes: 0, seconds: 0, loss: net.loss(d.eval) }];
  let samples = 0;
  let steps = 0;
  let elapsed = 0;
  const used = () => (budget.unit === 'seconds' ? elapsed : samples / n);
  let nextReport = budget.amount / POINTS;
  outer: for (;;) {
    for (const b of batches.epoch()) {
      const t0 = performance.now();
      const r = opt.step(net, b);
      elapsed += (performance.now() - t0) / 1000;
      steps++;
      samples += cost(name, r, b, s);
      if (used() >= nextReport || used() >= budget.amount) {
        curve.push({ passes: samples / n, seconds: elapsed, loss: net.loss(d.eval) });
        while (nextReport <= used()) nextReport += budget.amount / POINTS;
      }
      if (used() >= budget.amount) break outer;
    }
  }
  const last = curve.at(-1)!;
  // As `ndcnn train` does after every HF epoch: HF's few steps leave batch norm's running statistics behind.
  if (name === 'hf' || name === 'hf-kfac') net.recomputeStatistics(d.train.inputs, n);
  return { curve, accuracy: accuracy(net, d.test), steps, seconds: elapsed, passes: last.passes, loss: last.loss };
}

/** Passes and seconds at which the curve first reaches `loss` (linear between points), or null. */
function reach(curve: Point[], loss: number): { passes: number; seconds: number } | null {
  if (curve[0].loss <= loss) return { passes: 0, seconds: 0 };
  for (let i = 1; i < curve.length; i++) {
    const [a, b] = [curve[i - 1], curve[i]];
    if (b.loss <= loss) {
      const f = (a.loss - loss) / (a.loss - b.loss);
      return { passes: a.passes + f * (b.passes - a.passes), seconds: a.seconds + f * (b.seconds - a.seconds) };
    }
  }
  return null;
}

/** Mean and sample standard deviation (null sd for a single value). */
function stats(xs: number[]): { mean: number; sd: number | null; n: number } {
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const sd = xs.length > 1 ? Math.sqrt(xs.reduce((a, x) => a + (x - mean) ** 2, 0) / (xs.length - 1)) : null;
  return { mean, sd, n: xs.length };
}
const fmt = (s: { mean: number; sd: number | null }, digits: number, scale = 1) =>
  (s.mean * scale).toFixed(digits) + (s.sd === null ? '' : ` ± ${(s.sd * scale).toFixed(digits)}`);

// ---------------------------------------------------------------------------------------------
// Variants: the optimizers asked for, each with its setting or with every combination of --set.

function parseValue(text: string): unknown {
  return text !== '' && Number.isFinite(Number(text)) ? Number(text) : text;
}
const grid = new Map<OptName, [string, unknown[]][]>();
for (const item of flags.set) {
  const m = /^([a-z-]+)\.([A-Za-z]+)=(.+)$/.exec(item);
  if (!m) fail(`--set must read OPTIMIZER.KEY=V1,V2,..., got '${item}'`);
  const opt = m[1] as OptName;
  if (!OPTIMIZERS.includes(opt)) fail(`--set ${item}: unknown optimizer '${m[1]}' (known: ${OPTIMIZERS.join(', ')})`);
  grid.set(opt, [...(grid.get(opt) ?? []), [m[2], m[3].split(',').map(parseValue)]]);
}
const asked = flags.optimizers === undefined ? [...OPTIMIZERS] : flags.optimizers.split(',') as OptName[];
for (const o of asked) if (!OPTIMIZERS.includes(o)) fail(`--optimizers: unknown '${o}' (known: ${OPTIMIZERS.join(', ')})`);

interface Variant { label: string; name: OptName; setting: Setting }
function variants(problem: Problem): Variant[] {
  return asked.flatMap((name) => {
    const t = problem.tuned?.[name];
    const base: Setting = { batchSize: t?.batchSize ?? SETTINGS[name].batchSize, options: { ...SETTINGS[name].options, ...t?.options } };
    let combos: [string, Setting][] = [['', base]];
    for (const [key, values] of grid.get(name) ?? []) {
      combos = combos.flatMap(([label, s]) => values.map((v): [string, Setting] => [
        `${label}${label ? ' ' : ''}${key}=${String(v)}`,
        key === 'batchSize' ? { ...s, batchSize: v as number } : { ...s, options: { ...s.options, [key]: v } },
      ]));
    }
    return combos.map(([label, setting]) => ({ label: label ? `${name} {${label}}` : name, name, setting }));
  });
}

// ---------------------------------------------------------------------------------------------

const selected = Object.entries(problems).filter(([p]) => !flags.problem || p.startsWith(flags.problem));
if (selected.length === 0) fail(`--problem '${flags.problem}' matches none of: ${Object.keys(problems).join('; ')}`);
const results: Record<string, Record<string, { setting: Setting; runs: Run[] }>> = {};
const summary: Record<string, unknown> = {};
const tables: string[] = [];
const started = performance.now();
for (const [title, problem] of selected) {
  const vs = variants(problem);
  const runs: Record<string, Run[]> = {};
  results[title] = {};
  for (const v of vs) {
    runs[v.label] = seeds.map((seed) => {
      const r = run(problem, v.name, v.setting, seed);
      console.log(`\n${title} — ${v.label}, seed ${seed} (${r.steps} steps, held-out accuracy ${(100 * r.accuracy).toFixed(2)} %)`);
      console.log('  passes   seconds   train loss');
      for (const p of r.curve) console.log(`  ${p.passes.toFixed(2).padStart(6)}  ${p.seconds.toFixed(1).padStart(8)}   ${p.loss.toFixed(4)}`);
      return r;
    });
    results[title][v.label] = { setting: v.setting, runs: runs[v.label] };
  }
  const labels = vs.map((v) => v.label);
  const per = Object.fromEntries(labels.map((o) => [o, {
    loss: stats(runs[o].map((r) => r.loss)), accuracy: stats(runs[o].map((r) => r.accuracy)),
    steps: stats(runs[o].map((r) => r.steps)), seconds: stats(runs[o].map((r) => r.seconds)), passes: stats(runs[o].map((r) => r.passes)),
  }]));
  // reachOf[target][o]: passes and seconds o needed, seed by seed, to reach target's final loss at that seed.
  const reachOf = Object.fromEntries(labels.map((target) => [target, Object.fromEntries(labels.map((o) => {
    const each = seeds.map((_, k) => reach(runs[o][k].curve, runs[target][k].loss));
    const got = each.filter((x): x is { passes: number; seconds: number } => x !== null);
    return [o, { each, reached: got.length, passes: got.length ? stats(got.map((g) => g.passes)) : null, seconds: got.length ? stats(got.map((g) => g.seconds)) : null }];
  }))]));
  summary[title] = { optimizers: per, reach: reachOf };
  const n = seeds.length;
  tables.push(`\n${title} (${n} seed${n > 1 ? 's' : ''}, ${budget.amount} ${budget.unit})\n`,
    '| optimizer | final train loss | held-out accuracy (%) | steps | passes | seconds |', '|---|---|---|---|---|---|',
    ...labels.map((o) => `| ${o} | ${fmt(per[o].loss, 4)} | ${fmt(per[o].accuracy, 2, 100)} | ${fmt(per[o].steps, 0)} | ${fmt(per[o].passes, 2)} | ${fmt(per[o].seconds, 1)} |`),
    '', `| passes (seconds) to reach … | ${labels.join(' | ')} |`, `|---|${labels.map(() => '---|').join('')}`,
    ...labels.map((t) => `| ${t}'s final loss | ${labels.map((o) => {
      const c = reachOf[t][o];
      return c.passes === null ? `not reached (0 of ${n})` : `${fmt(c.passes, 2)} (${fmt(c.seconds!, 1)} s)${c.reached < n ? ` (${c.reached} of ${n})` : ''}`;
    }).join(' | ')} |`));
}
console.log(tables.join('\n'));
console.log(`\n${((performance.now() - started) / 60000).toFixed(1)} min`);
mkdirSync(dirname(flags.out), { recursive: true });
// Written whole, then renamed: a run killed midway leaves the previous results intact.
writeFileSync(`${flags.out}.tmp`, JSON.stringify({ budget, seeds, summary, results }, null, 2));
renameSync(`${flags.out}.tmp`, flags.out);
console.log(`wrote ${flags.out}`);
