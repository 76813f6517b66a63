/**
 * Edge of stability (Cohen, Kaur, Li, Kolter & Talwalkar, ICLR 2021), reproduced small: full-batch
 * gradient descent on a fixed seeded subset of MNIST digits (2×2-averaged to 14×14), a small CNN
 * (conv 3×3 ×8 tanh → max-pool 2 → dense 10), with MSE on one-hot targets and with softmax
 * cross-entropy, at three step sizes each. Every `every` steps the sharpness (top eigenvalue of
 * the full-batch training-loss Hessian) is computed by Lanczos, warm-started from the previous
 * top eigenvector mixed with a fresh random direction.
 *
 *   npx tsx bench/edge-of-stability.ts [--samples 200] [--steps 800] [--every 20] [--out bench/results]
 *
 * Writes edge-of-stability.json (per run: η, 2/η, loss per step, sharpness per checkpoint) and
 * edge-of-stability.svg (sharpness with 2/η dashed, and loss per step, per loss function).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadMnist } from '../datasets/mnist.js';
import { writeFileAtomic } from '../src/io/atomic.js';
import { renderPanels, type Panel, type Series } from '../experiments/plot.js';
import { CurvatureOperator, topEigenpairs } from '../src/analysis/index.js';
import { conv, dense, flatten, maxPool } from '../src/layers/index.js';
import { Network } from '../src/network/index.js';
import { cpuBackend } from '../src/nd/backends/cpu/index.js';
import type { Batch } from '../src/nd/model.js';
import { Rng } from '../src/nd/rng.js';

const { values: flags } = parseArgs({
  options: {
    samples: { type: 'string', default: '200' },
    steps: { type: 'string', default: '800' },
    every: { type: 'string', default: '20' },
    out: { type: 'string', default: 'bench/results' },
  },
});
const SAMPLES = Number(flags.samples);
const STEPS = Number(flags.steps);
const EVERY = Number(flags.every);
for (const [k, v] of [['samples', SAMPLES], ['steps', STEPS], ['every', EVERY]] as const) {
  if (!Number.isInteger(v) || v < 1) throw new Error(`--${k} must be a positive integer, got ${flags[k]}`);
}

/** 2/η for each loss: chosen above the initial sharpness (≈13 for MSE, ≈1.4 for CE). */
const RUNS: { loss: 'mse' | 'softmax-cross-entropy'; twoOverEta: number[] }[] = [
  { loss: 'mse', twoOverEta: [15, 20, 30] },
  { loss: 'softmax-cross-entropy', twoOverEta: [2, 2.5, 3] },
];

function digits(n: number): { x: Float32Array; labels: Int32Array; onehot: Float32Array } {
  const ds = loadMnist();
  const idx = new Rng(1).permutation(ds.labels.length).subarray(0, n);
  const x = new Float32Array(n * 196);
  const labels = new Int32Array(n);
  const onehot = new Float32Array(n * 10);
  for (let k = 0; k < n; k++) {
    const i = idx[k];
    labels[k] = ds.labels[i];
    onehot[k * 10 + labels[k]] = 1;
    for (let r = 0; r < 14; r++) {
      for (let c = 0; c < 14; c++) {
        const at = i * 784 + 2 * r * 28 + 2 * c;
        x[k * 196 + r * 14 + c] = (ds.inputs[at] + ds.inputs[at + 1] + ds.inputs[at + 28] + ds.inputs[at + 29]) / 4;
      }
    }
  }
  return { x, labels, onehot };
}

interface RunResult {
  loss: string;
  eta: number;
  twoOverEta: number;
  losses: number[];
  sharpness: { step: number; value: number; residual: number }[];
  seconds: number;
}

function run(loss: 'mse' | 'softmax-cross-entropy', twoOverEta: number, data: ReturnType<typeof digits>): RunResult {
  const eta = 2 / twoOverEta;
  const net = new Network(cpuBackend('float32'), [1, 14, 14], [
    conv({ channels: 8, kernel: 3, activation: 'tanh' }),
    maxPool({ window: 2 }),
    flatten(),
    dense({ units: 10 }),
  ], { loss, seed: 1 });
  const batch: Batch = { x: data.x, y: loss === 'mse' ? data.onehot : data.labels, n: SAMPLES };
  const grad = new Float32Array(net.paramCount);
  const rng = new Rng(2);
  const result: RunResult = { loss, eta, twoOverEta, losses: [], sharpness: [], seconds: 0 };
  const started = performance.now();
  let warm: Float64Array | undefined;
  for (let step = 0; step <= STEPS; step++) {
    if (step % EVERY === 0) {
      const start = new Float64Array(net.paramCount);
      for (let i = 0; i < start.length; i++) start[i] = rng.normal() / Math.sqrt(start.length) + (warm ? 3 * warm[i] : 0);
      const top = topEigenpairs(new CurvatureOperator(net, batch), { k: 1, tol: 1e-3, maxSteps: 12, start, verify: false });
      warm = top.vectors[0];
      result.sharpness.push({ step, value: top.values[0], residual: top.residuals[0] });
    }
    if (step === STEPS) break;
    const l = net.gradient(batch, grad);
    if (!Number.isFinite(l)) throw new Error(`${loss} 2/η = ${twoOverEta}: diverged at step ${step}`);
    result.losses.push(l);
    const p = net.params;
    for (let i = 0; i < p.length; i++) p[i] -= eta * grad[i];
  }
  result.seconds = (performance.now() - started) / 1000;
  const last = result.sharpness[result.sharpness.length - 1].value;
  console.log(`${loss} η = 2/${twoOverEta}: loss ${result.losses[0].toFixed(4)} → ${result.losses[result.losses.length - 1].toFixed(4)}, sharpness ${result.sharpness[0].value.toFixed(2)} → ${last.toFixed(2)} (max ${Math.max(...result.sharpness.map((s) => s.value)).toFixed(2)}), ${result.seconds.toFixed(0)} s`);
  return result;
}

const COLOURS = ['#1f77b4', '#d62728', '#2ca02c'];

function panels(results: RunResult[]): Panel[] {
  return RUNS.flatMap(({ loss }) => {
    const mine = results.filter((r) => r.loss === loss);
    const sharp: Series[] = mine.flatMap((r, i) => [
      { name: `η = 2/${r.twoOverEta}`, colour: COLOURS[i], points: r.sharpness.map((s): [number, number] => [s.step, s.value]) },
      { name: `2/η = ${r.twoOverEta}`, colour: COLOURS[i], dashed: true, points: [[0, r.twoOverEta], [STEPS, r.twoOverEta]] },
    ]);
    const losses: Series[] = mine.map((r, i) => ({ name: `η = 2/${r.twoOverEta}`, colour: COLOURS[i], points: r.losses.map((l, s): [number, number] => [s, l]) }));
    return [
      { title: `${loss}: sharpness (top Hessian eigenvalue) and 2/η`, series: sharp, logY: false },
      { title: `${loss}: training loss (full batch)`, series: losses, logY: true },
    ];
  });
}

const data = digits(SAMPLES);
const results: RunResult[] = [];
mkdirSync(flags.out!, { recursive: true });
for (const { loss, twoOverEta } of RUNS) {
  for (const t of twoOverEta) {
    results.push(run(loss, t, data));
    // Written after every run, so a long job shows its progress and a kill keeps what finished.
    const title = `Edge of stability: full-batch GD, ${SAMPLES} MNIST digits (14×14), conv-tanh-pool-dense CNN`;
    writeFileAtomic(join(flags.out!, 'edge-of-stability.svg'), renderPanels(panels(results), title));
    writeFileAtomic(join(flags.out!, 'edge-of-stability.json'), `${JSON.stringify({ samples: SAMPLES, steps: STEPS, every: EVERY, results }, null, 1)}\n`);
  }
}
