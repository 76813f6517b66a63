/**
 * HF vs SGD vs Adam side by side: same network, data and budget, over one or more seeds. Prints
 * the training loss (on a fixed 2,000-digit evaluation subset) against passes over the training
 * data and optimizer seconds, and the held-out accuracy at the end.
 *
 *   npx tsx bench/hf-vs-sgd.ts [--seconds 60 | --passes P] [--seeds 1,2,3] [--problem PREFIX] [--out FILE]
 *
 * The budget is either optimizer wall time (`--seconds`, the default, 60 s) or passes over the
 * 8,000 training digits (`--passes`): timings on a shared machine are noisy, pass counts are not.
 * A "data pass" counts the samples pushed through gradient computations (mini-batches for SGD and
 * Adam; gradient batches plus curvature-batch Gv products, each Gv costing about one gradient, for
 * HF). A seed sets the initial weights (Network `seed`) and the batch order (the MiniBatches Rng);
 * without `--seeds` one run uses weights 7 and batches 3, as the older results did.
 * For each problem it prints how many passes each optimizer needed to first reach each
 * optimizer's final training loss at the same seed (the loss is the training-mode loss: batch
 * norm on the subset's own statistics; no problem here has dropout), then markdown tables with
 * mean ± sample standard deviation over the seeds. Writes `--out`, by default
 * bench/results/hf-vs-sgd-seeds.json with `--seeds` and bench/results/hf-vs-sgd.json without.
 */
import { renameSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { loadMnist } from '../datasets/mnist.js';
import { randomSplit } from '../datasets/splits.js';
import { subset } from '../datasets/dataset.js';
import { activation, batchNorm, conv, dense, flatten, maxPool, type LayerSpec } from '../src/layers/index.js';
import { Network } from '../src/network/index.js';
import { cpuBackend } from '../src/nd/backends/cpu/index.js';
import { Rng } from '../src/nd/rng.js';
import { createOptimizer, MiniBatches, type HfReport, type Optimizer } from '../src/optim/index.js';

function fail(message: string): never {
  console.error(`hf-vs-sgd: ${message}`);
  process.exit(2);
}

const { values: flags } = (() => {
  try {
    return parseArgs({ options: { seconds: { type: 'string' }, passes: { type: 'string' }, seeds: { type: 'string' }, problem: { type: 'string' }, out: { type: 'string' } } });
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
const budget = flags.passes !== undefined
  ? { unit: 'passes' as const, amount: positive('passes', flags.passes) }
  : { unit: 'seconds' as const, amount: flags.seconds === undefined ? 60 : positive('seconds', flags.seconds) };
interface Seed { weights: number; batches: number }
const seeds: Seed[] = flags.seeds === undefined
  ? [{ weights: 7, batches: 3 }]
  : flags.seeds.split(',').map((t) => {
    if (!/^\s*\d+\s*$/.test(t)) fail(`--seeds must be comma-separated non-negative integers, got '${flags.seeds}'`);
    return { weights: Number(t), batches: Number(t) };
  });

const all = loadMnist();
const split = randomSplit(all.labels.length, 2000, 1);
const train = subset(all, split.train);
const test = subset(all, split.test);
const evalSet = subset(train, new Rng(2).permutation(train.labels.length).subarray(0, 2000));
const evalBatch = { x: evalSet.inputs, y: evalSet.labels, n: evalSet.labels.length };

const problems: Record<string, LayerSpec[]> = {
  'LeNet-like (relu)': [
    conv({ channels: 8, kernel: 5, activation: 'relu' }), maxPool({ window: 2 }),
    conv({ channels: 16, kernel: 5, activation: 'relu' }), maxPool({ window: 2 }),
    flatten(), dense({ units: 10 }),
  ],
  // The same with batch norm before each ReLU: an ordinary, well-conditioned modern CNN, and
  // HF's exact curvature through the batch statistics.
  'LeNet-like with batch norm': [
    conv({ channels: 8, kernel: 5 }), batchNorm(), activation('relu'), maxPool({ window: 2 }),
    conv({ channels: 16, kernel: 5 }), batchNorm(), activation('relu'), maxPool({ window: 2 }),
    flatten(), dense({ units: 10 }),
  ],
  // A narrow convolution, then five narrow sigmoid layers: gradients shrink layer by layer and
  // the curvature is badly scaled across depth (Glorot & Bengio 2010; Martens 2010 §5), which
  // first-order steps handle poorly.
  'deep narrow (conv + 5× dense 32, sigmoid)': [
    conv({ channels: 4, kernel: 5, stride: 2, activation: 'sigmoid' }), flatten(),
    ...Array.from({ length: 5 }, () => dense({ units: 32, activation: 'sigmoid' as const })),
    dense({ units: 10 }),
  ],
};

interface Point { passes: number; seconds: number; loss: number }
interface Run { curve: Point[]; accuracy: number; steps: number; seconds: number; passes: number; loss: number }

function accuracy(net: Network): number {
  const out = net.predict(test.inputs, test.labels.length);
  let right = 0;
  for (let i = 0; i < test.labels.length; i++) {
    let best = 0;
    for (let j = 1; j < 10; j++) if (out[i * 10 + j] > out[i * 10 + best]) best = j;
    if (best === test.labels[i]) right++;
  }
  return right / test.labels.length;
}

type OptName = 'sgd' | 'adam' | 'hf';

function run(specs: LayerSpec[], name: OptName, seed: Seed): Run {
  const net = new Network(cpuBackend('float32'), [1, 28, 28], specs, { seed: seed.weights });
  const batchSize = name === 'hf' ? 1000 : 64;
  const curvatureBatch = 250;
  const opt: Optimizer =
    name === 'sgd' ? createOptimizer('sgd', { lr: 0.05, momentum: 'classic' })
      : name === 'adam' ? createOptimizer('adam', { lr: 1e-3 })
        : createOptimizer('hf', { curvatureBatch, maxCgIterations: 50 });
  const batches = new MiniBatches({ x: train.inputs, y: train.labels, sampleSize: 784 }, batchSize, new Rng(seed.batches));
  const curve: Point[] = [{ passes: 0, seconds: 0, loss: net.loss(evalBatch) }];
  let samples = 0;
  let steps = 0;
  let elapsed = 0;
  const used = () => (budget.unit === 'seconds' ? elapsed : samples / train.labels.length);
  let nextReport = budget.amount / 12;
  outer: for (;;) {
    for (const b of batches.epoch()) {
      const t0 = performance.now();
      const r = opt.step(net, b);
      elapsed += (performance.now() - t0) / 1000;
      steps++;
      samples += b.n + (name === 'hf' ? (r as HfReport).cgIterations * Math.min(curvatureBatch, b.n) : 0);
      if (used() >= nextReport || used() >= budget.amount) {
        curve.push({ passes: samples / train.labels.length, seconds: elapsed, loss: net.loss(evalBatch) });
        while (nextReport <= used()) nextReport += budget.amount / 12;
      }
      if (used() >= budget.amount) break outer;
    }
  }
  const last = curve.at(-1)!;
  // As `ndcnn train` does after every HF epoch: HF's few steps leave batch norm's running statistics behind.
  if (name === 'hf') net.recomputeStatistics(train.inputs, train.labels.length);
  return { curve, accuracy: accuracy(net), steps, seconds: elapsed, passes: last.passes, loss: last.loss };
}

/** Passes at which the curve first reaches `loss` (linear between points), or null. */
function passesTo(curve: Point[], loss: number): number | null {
  if (curve[0].loss <= loss) return 0;
  for (let i = 1; i < curve.length; i++) {
    const [a, b] = [curve[i - 1], curve[i]];
    if (b.loss <= loss) return a.passes + ((a.loss - loss) / (a.loss - b.loss)) * (b.passes - a.passes);
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

const OPTS: OptName[] = ['sgd', 'adam', 'hf'];
const selected = Object.entries(problems).filter(([p]) => !flags.problem || p.startsWith(flags.problem));
if (selected.length === 0) fail(`--problem '${flags.problem}' matches none of: ${Object.keys(problems).join('; ')}`);
const results: Record<string, Record<string, Run[]>> = {};
const summary: Record<string, unknown> = {};
const tables: string[] = [];
for (const [problem, specs] of selected) {
  const runs: Record<string, Run[]> = (results[problem] = {});
  for (const opt of OPTS) {
    runs[opt] = seeds.map((seed) => {
      const r = run(specs, opt, seed);
      console.log(`\n${problem} — ${opt}, seed ${seed.weights}/${seed.batches} (${r.steps} steps, held-out accuracy ${(100 * r.accuracy).toFixed(2)} %)`);
      console.log('  passes   seconds   train loss');
      for (const p of r.curve) console.log(`  ${p.passes.toFixed(2).padStart(6)}  ${p.seconds.toFixed(1).padStart(8)}   ${p.loss.toFixed(4)}`);
      return r;
    });
  }
  const per = Object.fromEntries(OPTS.map((o) => [o, {
    loss: stats(runs[o].map((r) => r.loss)), accuracy: stats(runs[o].map((r) => r.accuracy)),
    steps: stats(runs[o].map((r) => r.steps)), seconds: stats(runs[o].map((r) => r.seconds)),
    passes: stats(runs[o].map((r) => r.passes)),
  }]));
  // reach[target][o]: passes o needed, seed by seed, to reach target's final loss at that seed.
  const reach = Object.fromEntries(OPTS.map((target) => [target, Object.fromEntries(OPTS.map((o) => {
    const each = seeds.map((_, k) => passesTo(runs[o][k].curve, runs[target][k].loss));
    const got = each.filter((x): x is number => x !== null);
    return [o, { each, reached: got.length, passes: got.length ? stats(got) : null }];
  }))]));
  summary[problem] = { optimizers: per, reach };
  tables.push(`\n${problem} (${seeds.length} seed${seeds.length > 1 ? 's' : ''}, ${budget.amount} ${budget.unit})\n`,
    '| optimizer | final train loss | held-out accuracy (%) | steps | passes | seconds |', '|---|---|---|---|---|---|',
    ...OPTS.map((o) => `| ${o} | ${fmt(per[o].loss, 4)} | ${fmt(per[o].accuracy, 2, 100)} | ${fmt(per[o].steps, 0)} | ${fmt(per[o].passes, 2)} | ${fmt(per[o].seconds, 0)} |`),
    '', `| passes to reach … | ${OPTS.join(' | ')} |`, `|---|${OPTS.map(() => '---|').join('')}`,
    ...OPTS.map((t) => `| ${t}'s final loss | ${OPTS.map((o) => {
      const c = reach[t][o];
      return c.passes === null ? `not reached (0 of ${seeds.length})` : `${fmt(c.passes, 2)} (${c.reached} of ${seeds.length})`;
    }).join(' | ')} |`));
}
console.log(tables.join('\n'));
const out = flags.out ?? `bench/results/${flags.seeds === undefined ? 'hf-vs-sgd' : 'hf-vs-sgd-seeds'}.json`;
mkdirSync(dirname(out), { recursive: true });
// Written whole, then renamed: a run killed midway leaves the previous results intact.
writeFileSync(`${out}.tmp`, JSON.stringify({ budget, seeds, summary, results }, null, 2));
renameSync(`${out}.tmp`, out);
console.log(`\nwrote ${out}`);
