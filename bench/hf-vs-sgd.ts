/**
 * HF vs SGD vs Adam side by side: same network, data, seed and wall-clock budget. Prints the training loss
 * (on a fixed 2,000-digit evaluation subset) against passes over the training data and wall
 * time, and the held-out accuracy at the end; writes bench/results/hf-vs-sgd.json.
 *
 *   npx tsx bench/hf-vs-sgd.ts [--seconds 60]
 *
 * A "data pass" counts the samples pushed through gradient computations (mini-batches for SGD;
 * gradient batches plus curvature-batch Gv products, each Gv costing about one gradient, for HF).
 * For each problem it then prints how many passes each optimizer needed to first reach each
 * other's final training loss (the loss is the training-mode loss: batch norm on the subset's
 * own statistics; no problem here has dropout).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadMnist } from '../datasets/mnist.js';
import { randomSplit } from '../datasets/splits.js';
import { subset } from '../datasets/dataset.js';
import { activation, batchNorm, conv, dense, flatten, maxPool, Network, type LayerSpec } from '../src/layers/index.js';
import { cpuBackend } from '../src/nd/backends/cpu/index.js';
import { Rng } from '../src/nd/rng.js';
import { createOptimizer, MiniBatches, type HfReport, type Optimizer } from '../src/optim/index.js';

const arg = (name: string) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : undefined);
const seconds = Number(arg('--seconds')) || 60;
const only = arg('--problem');
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

function run(specs: LayerSpec[], name: OptName): { curve: Point[]; accuracy: number; steps: number } {
  const net = new Network(cpuBackend('float32'), [1, 28, 28], specs, { seed: 7 });
  const batchSize = name === 'hf' ? 1000 : 64;
  const curvatureBatch = 250;
  const opt: Optimizer =
    name === 'sgd' ? createOptimizer('sgd', { lr: 0.05, momentum: 'classic' })
      : name === 'adam' ? createOptimizer('adam', { lr: 1e-3 })
        : createOptimizer('hf', { curvatureBatch, maxCgIterations: 50 });
  const batches = new MiniBatches({ x: train.inputs, y: train.labels, sampleSize: 784 }, batchSize, new Rng(3));
  const curve: Point[] = [{ passes: 0, seconds: 0, loss: net.loss(evalBatch) }];
  let samples = 0;
  let steps = 0;
  let elapsed = 0;
  let nextReport = seconds / 12;
  outer: for (;;) {
    for (const b of batches.epoch()) {
      const t0 = performance.now();
      const r = opt.step(net, b);
      elapsed += (performance.now() - t0) / 1000;
      steps++;
      samples += b.n + (name === 'hf' ? (r as HfReport).cgIterations * Math.min(curvatureBatch, b.n) : 0);
      if (elapsed >= nextReport || elapsed >= seconds) {
        curve.push({ passes: samples / train.labels.length, seconds: elapsed, loss: net.loss(evalBatch) });
        nextReport += seconds / 12;
      }
      if (elapsed >= seconds) break outer;
    }
  }
  return { curve, accuracy: accuracy(net), steps };
}

/** Passes at which the curve first reaches `loss` (linear between points), or null. */
function passesTo(curve: Point[], loss: number): number | null {
  for (let i = 1; i < curve.length; i++) {
    const [a, b] = [curve[i - 1], curve[i]];
    if (b.loss <= loss) return a.loss <= loss ? a.passes : a.passes + ((a.loss - loss) / (a.loss - b.loss)) * (b.passes - a.passes);
  }
  return null;
}

const OPTS: OptName[] = ['sgd', 'adam', 'hf'];
const results: Record<string, Record<string, ReturnType<typeof run>>> = {};
for (const [problem, specs] of Object.entries(problems).filter(([p]) => !only || p.startsWith(only))) {
  results[problem] = {};
  for (const opt of OPTS) {
    const r = run(specs, opt);
    results[problem][opt] = r;
    console.log(`\n${problem} — ${opt} (${r.steps} steps, held-out accuracy ${(100 * r.accuracy).toFixed(2)} %)`);
    console.log('  passes   seconds   train loss');
    for (const p of r.curve) console.log(`  ${p.passes.toFixed(2).padStart(6)}  ${p.seconds.toFixed(1).padStart(8)}   ${p.loss.toFixed(4)}`);
  }
  console.log(`\n${problem}: passes to reach each optimizer's final training loss`);
  for (const target of OPTS) {
    const loss = results[problem][target].curve.at(-1)!.loss;
    const cells = OPTS.map((o) => `${o} ${passesTo(results[problem][o].curve, loss)?.toFixed(2) ?? 'not reached'}`);
    console.log(`  ${target}'s ${loss.toFixed(4)}: ${cells.join(', ')}`);
  }
}
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/hf-vs-sgd.json', JSON.stringify({ seconds, results }, null, 2));
