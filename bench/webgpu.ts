/**
 * The WebGPU backend (Dawn in Node) against the CPU backend in the same run: W1–W3 (a lone
 * convolution's forward and both backward passes, bench/workloads.ts), W4 (the LeNet training
 * step: gradient through the async passes and the SGD update) and a 3-D training step on
 * VOLUME³ volumes (conv 3³ 1→8 relu, pool 2, conv 3³ 8→16 relu, pool 2, dense → 4, batch 4).
 *
 *   npx tsx bench/webgpu.ts [--volume 64] [--threads 2] [--rounds 5] [--steps-only] [--out FILE.json]
 *
 * --steps-only skips W1–W3 (a software adapter takes minutes on W3).
 *
 * WebGPU records work and reads back asynchronously: each case records REPS calls and then
 * reads one result back, so a call's time includes 1/REPS of a round trip; a training step reads
 * back its loss and gradient like any training step. Medians over rounds, milliseconds.
 * On this machine the adapter is SwiftShader (software): its numbers say nothing about a GPU.
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { conv, dense, flatten, maxPool, type LayerSpec } from '../src/layers/index.js';
import { Network } from '../src/network/index.js';
import { readsAsync, type Backend, type Tensor } from '../src/nd/backend.js';
import { cpuBackend } from '../src/nd/backends/cpu/index.js';
import { webgpuBackend } from '../src/nd/backends/webgpu/open.js';
import { ConvGeometry } from '../src/nd/geometry.js';
import { Rng } from '../src/nd/rng.js';
import { sizeOf, type Shape } from '../src/nd/shape.js';
import { CONV_WORKLOADS, LENET } from './workloads.js';

const { values: args } = parseArgs({ options: { volume: { type: 'string', default: '32' }, threads: { type: 'string', default: '1' }, out: { type: 'string' }, 'steps-only': { type: 'boolean', default: false }, rounds: { type: 'string', default: '5' } } });
const VOLUME = Number(args.volume);
const ROUNDS = Number(args.rounds);
const REPS = 3;
const rng = new Rng(1);
const rand = (shape: Shape) => Float32Array.from({ length: sizeOf(shape) }, () => rng.normal());

async function sync(b: Backend, t: Tensor): Promise<void> {
  if (readsAsync(b)) await b.read(t);
  else b.download(t);
}

/** Median ms of `fn` over ROUNDS rounds after one warm-up call. */
async function median(fn: () => Promise<void>, per = 1): Promise<number> {
  await fn();
  const times: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t = performance.now();
    await fn();
    times.push((performance.now() - t) / per);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

/** A lone convolution's forward + backward-data + backward-filter, REPS times, then one read. */
async function convCase(b: Backend, w: (typeof CONV_WORKLOADS)[number]): Promise<number> {
  const g = new ConvGeometry('bench', [w.cin, ...w.size], { channels: w.cout, kernel: w.kernel });
  const [x, wt, y] = [b.upload(g.inShape(w.n), rand(g.inShape(w.n))), b.upload(g.weightShape(), rand(g.weightShape())), b.zeros(g.outShape(w.n))];
  const [dx, dw] = [b.zeros(g.inShape(w.n)), b.zeros(g.weightShape())];
  return median(async () => {
    for (let r = 0; r < REPS; r++) {
      b.conv(y, x, wt, g, false);
      b.convBackData(dx, y, wt, g, false);
      b.convBackFilter(dw, x, y, g, false);
    }
    await sync(b, dw);
  }, REPS);
}

/** One SGD step: the gradient (async passes where the backend needs them) and θ ← θ − η g. */
async function stepCase(b: Backend, inShape: number[], specs: LayerSpec[], batch: number, classes: number, threads: number): Promise<number> {
  const net = new Network(b, inShape, specs, { seed: 1, threads });
  const x = rand([batch, ...inShape]);
  const y = Int32Array.from({ length: batch }, (_, i) => i % classes);
  const grad = new Float32Array(net.paramCount);
  const ms = await median(async () => {
    await net.gradientAsync({ x, y, n: batch }, grad);
    for (let i = 0; i < grad.length; i++) net.params[i] -= 0.01 * grad[i];
  });
  net.dispose();
  return ms;
}

const lenet: LayerSpec[] = [
  conv({ ...LENET.conv1, activation: 'relu' }), maxPool({ window: LENET.pool }),
  conv({ ...LENET.conv2, activation: 'relu' }), maxPool({ window: LENET.pool }), flatten(), dense({ units: LENET.classes }),
];
const net3d: LayerSpec[] = [
  conv({ channels: 8, kernel: 3, padding: 1, activation: 'relu' }), maxPool({ window: 2 }),
  conv({ channels: 16, kernel: 3, padding: 1, activation: 'relu' }), maxPool({ window: 2 }), flatten(), dense({ units: 4 }),
];

const threads = Number(args.threads);
const engines: [string, Backend, number][] = [[`cpu (${threads} thread${threads > 1 ? 's' : ''})`, cpuBackend('float32'), threads]];
let webgpuNote = '';
try {
  const w = await webgpuBackend();
  engines.push(['webgpu', w, 1]);
  webgpuNote = w.describe();
} catch (e) {
  webgpuNote = `not run: ${(e as Error).message}`;
}

const rows: Record<string, Record<string, number>> = {};
for (const [name, b, t] of engines) {
  const r: Record<string, number> = {};
  if (!args['steps-only']) for (const w of CONV_WORKLOADS) r[w.id] = await convCase(b, w);
  r.W4 = await stepCase(b, [...LENET.inShape], lenet, LENET.batch, LENET.classes, t);
  r[`3-D step ${VOLUME}³`] = await stepCase(b, [1, VOLUME, VOLUME, VOLUME], net3d, 4, 4, t);
  rows[name] = r;
  console.error(`${name}: ${JSON.stringify(r)}`);
}

const cases = Object.keys(Object.values(rows)[0]);
const names = Object.keys(rows);
const lines = [`| workload | ${names.join(' | ')} | ${names.length > 1 ? 'cpu / webgpu' : ''} |`, `|---|${names.map(() => '---|').join('')}---|`];
for (const c of cases) {
  const ratio = names.length > 1 ? `${(rows[names[0]][c] / rows[names[1]][c]).toPrecision(2)}×` : '';
  lines.push(`| ${c} | ${names.map((n) => rows[n][c].toFixed(2)).join(' | ')} | ${ratio} |`);
}
console.log(`WebGPU: ${webgpuNote}\n\n${lines.join('\n')}`);
if (args.out) writeFileSync(args.out, `${JSON.stringify({ webgpu: webgpuNote, volume: VOLUME, ms: rows }, null, 2)}\n`);
for (const [, b] of engines) (b as { destroy?: () => void }).destroy?.();
