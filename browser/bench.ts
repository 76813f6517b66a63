/**
 * The browser benchmark page (bench/browser.ts runs it in headless Chromium, a part of `npm run
 * bench`); every ratio is taken within this one page run:
 * 1. cpu: the demo's training step (the W4 LeNet, batches of 32) on the CPU backend in its worker
 *    (trainer.ts): plain JS GEMM on one thread (what the page ran before it bundled wasm and
 *    workers), the wasm SIMD kernels on one thread, and on `threads` Web Workers.
 * 2. gpu: the same step on WebGPU and on gpu.js (WebGL2), on the page's adapter.
 * 3. peers: W1–W4 (bench/workloads.ts) on ndcnn's WebGPU backend and on TF.js's WebGPU backend
 *    (@tensorflow/tfjs-backend-webgpu). `scale=small` (the default) shrinks them for a software
 *    adapter, on which a full-size W4 step takes tens of seconds; `scale=full` runs them as the
 *    Node suite does (for a real GPU: bench/gpu-device.sh).
 * URL: parts=cpu,gpu,peers  threads=2  cpuSteps=60  gpuSteps=4  rounds=3  scale=small|full.
 * The results go to `window.ndcnnBench`.
 */
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-webgpu';
import { conv, dense, flatten, maxPool } from '../src/layers/index.js';
import { Network } from '../src/network/index.js';
import type { AsyncReads, Backend, Tensor } from '../src/nd/backend.js';
import { gpuBackend } from '../src/nd/backends/gpu/index.js';
import { WebGpuBackend } from '../src/nd/backends/webgpu/index.js';
import { webgpuBackend } from '../src/nd/backends/webgpu/open.js';
import { ConvGeometry } from '../src/nd/geometry.js';
import { Rng } from '../src/nd/rng.js';
import { Sgd } from '../src/optim/index.js';
import { CONV_WORKLOADS, LENET, convFlops, outSize, type ConvWorkload } from '../bench/workloads.js';
import { readDigits, SIDE } from './digits-format.js';
import { BATCH, SPECS } from './session.js';
import type { TrainerEvent, TrainerStart } from './trainer.js';

export interface BenchRow {
  part: 'cpu' | 'gpu' | 'peers';
  /** What was measured: "demo step", "W2 forward", … */
  what: string;
  engine: string;
  ms: number | null;
  note?: string;
}

export interface BenchState {
  rows: BenchRow[];
  adapter: string;
  scale: string;
  workloads: ConvWorkload[];
  w4Batch: number;
  done: boolean;
  error?: string;
}

declare global {
  interface Window {
    ndcnnBench?: BenchState;
  }
}

const q = new URLSearchParams(location.search);
const parts = (q.get('parts') ?? 'cpu,gpu,peers').split(',');
const THREADS = Number(q.get('threads') ?? 2);
const CPU_STEPS = Number(q.get('cpuSteps') ?? 60);
const GPU_STEPS = Number(q.get('gpuSteps') ?? 4);
const ROUNDS = Number(q.get('rounds') ?? 3);
const FULL = q.get('scale') === 'full';

/** W1–W3 at a size a software adapter runs in seconds (full: as the Node suite). */
const WORKLOADS: ConvWorkload[] = FULL ? CONV_WORKLOADS : [
  { id: 'W1', title: 'audio 1-D (small)', n: 1, cin: 16, size: [1024], cout: 32, kernel: [9] },
  { id: 'W2', title: 'image 2-D (small)', n: 2, cin: 16, size: [32, 32], cout: 32, kernel: [3, 3] },
  { id: 'W3', title: 'volume 3-D (small)', n: 1, cin: 8, size: [16, 16, 16], cout: 16, kernel: [3, 3, 3] },
];
const W4_BATCH = FULL ? LENET.batch : 8;

const state: BenchState = { rows: [], adapter: '', scale: FULL ? 'full' : 'small', workloads: WORKLOADS, w4Batch: W4_BATCH, done: false };
window.ndcnnBench = state;
const log = (r: BenchRow) => {
  state.rows.push(r);
  document.getElementById('out')!.textContent += `${r.part}\t${r.what}\t${r.engine}\t${r.ms === null ? r.note : `${r.ms.toFixed(1)} ms`}\n`;
};

const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

/** Median wall time of `rounds` calls after one warm-up call (pipelines and kernels compile there). */
async function time(fn: () => Promise<void>, rounds = ROUNDS): Promise<number> {
  await fn();
  const ms: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t = performance.now();
    await fn();
    ms.push(performance.now() - t);
  }
  return median(ms);
}

function random(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.normal());
}

/**
 * The demo step on the CPU backend in its worker: the median time between its step reports over
 * all but the first 10 of `CPU_STEPS` steps (a median, because other processes' bursts on a
 * shared machine would dominate a mean).
 */
function cpuStep(digits: ReturnType<typeof readDigits>, gemm: string, threads: number): Promise<{ ms: number; runs: string }> {
  const worker = new Worker(new URL('./trainer.js', import.meta.url), { type: 'module' });
  return new Promise<{ ms: number; runs: string }>((done, fail) => {
    let runs = '';
    const at: number[] = [];
    worker.onerror = (e) => fail(new Error(e.message));
    worker.onmessage = (m: MessageEvent<TrainerEvent>) => {
      const e = m.data;
      if (e.kind === 'started') runs = e.note ? `${e.runs} (${e.note})` : e.runs;
      else if (e.kind === 'step') at.push(performance.now());
      else if (e.kind === 'done') done({ ms: median(at.slice(10).map((t, i) => t - at[9 + i])), runs });
      else if (e.kind === 'error') fail(new Error(e.message));
    };
    const start: TrainerStart = { start: { threads, gemm, maxSteps: CPU_STEPS, evalEvery: 0, train: digits.train, test: { x: digits.test.x.subarray(0, 784), y: digits.test.y.subarray(0, 1) }, threadUrl: new URL('./thread.js', import.meta.url).href } };
    worker.postMessage(start);
  }).finally(() => worker.terminate());
}

/** One SGD step (ndcnn) of `net` on a fixed batch, awaited to its end. */
function ndcnnStep(net: Network, n: number, lr: number): () => Promise<void> {
  const rng = new Rng(4);
  const batch = { x: random(n * net.inShape.reduce((a, b) => a * b, 1), 1), y: Int32Array.from({ length: n }, () => rng.int(10)), n };
  const sgd = new Sgd({ lr });
  return async () => void (await sgd.stepAsync(net, batch));
}

/** W4 in TF.js (as bench/train-suite.ts): the same net channels-last, tf.train.sgd, the loss read back. */
function tfjsStep(n: number): () => Promise<void> {
  const init = (shape: number[], seed: number) => tf.variable(tf.tensor(random(shape.reduce((a, b) => a * b, 1), seed), shape));
  const [w1, w2, wd] = [init([5, 5, 1, 8], 1), init([5, 5, 8, 16], 2), init([256, 10], 3)];
  const [b1, b2, bd] = [tf.variable(tf.zeros([8])), tf.variable(tf.zeros([16])), tf.variable(tf.zeros([10]))];
  const x = tf.tensor(random(n * 784, 4), [n, 28, 28, 1]) as tf.Tensor4D;
  const onehot = tf.oneHot(tf.tensor1d(Int32Array.from({ length: n }, (_, i) => i % 10), 'int32'), 10);
  const opt = tf.train.sgd(LENET.learningRate);
  const loss = () => {
    let h = tf.relu(tf.add(tf.conv2d(x, w1 as tf.Tensor4D, 1, 'valid'), b1)) as tf.Tensor4D;
    h = tf.maxPool(h, 2, 2, 'valid');
    h = tf.relu(tf.add(tf.conv2d(h, w2 as tf.Tensor4D, 1, 'valid'), b2)) as tf.Tensor4D;
    h = tf.maxPool(h, 2, 2, 'valid');
    return tf.losses.softmaxCrossEntropy(onehot, tf.add(tf.matMul(tf.reshape(h, [n, 256]), wd), bd)) as tf.Scalar;
  };
  return async () => {
    const l = opt.minimize(loss, true)!;
    await l.data();
    l.dispose();
  };
}

const prod = (a: number[]) => a.reduce((p, v) => p * v, 1);

/** W1–W3's forward and backward (data and filter) passes on ndcnn's WebGPU backend. */
async function ndcnnConv(B: Backend & AsyncReads, w: ConvWorkload): Promise<[number, number]> {
  const g = new ConvGeometry(w.id, [w.cin, ...w.size], { channels: w.cout, kernel: w.kernel });
  const x = B.upload(g.inShape(w.n), random(w.n * w.cin * prod(w.size), 1));
  const k = B.upload(g.weightShape(), random(w.cout * w.cin * prod(w.kernel), 2));
  const dy = B.upload(g.outShape(w.n), random(w.n * w.cout * prod(outSize(w)), 3));
  const [y, dx, dk] = [B.zeros(g.outShape(w.n)), B.zeros(g.inShape(w.n)), B.zeros(g.weightShape())];
  const last = (t: Tensor) => B.read(B.reshape(t, [t.shape.reduce((a, b) => a * b, 1)]));
  const forward = await time(async () => {
    B.conv(y, x, k, g, false);
    await last(y);
  });
  const backward = await time(async () => {
    B.convBackData(dx, dy, k, g, false);
    B.convBackFilter(dk, x, dy, g, false);
    await Promise.all([last(dx), last(dk)]);
  });
  for (const t of [x, k, dy, y, dx, dk]) B.dispose(t);
  return [forward, backward];
}

/** The same on TF.js's backend (NHWC / NDHWC, 1-D lifted to 2-D), as bench/conv-engines.ts. */
async function tfjsConv(w: ConvWorkload): Promise<[number, number]> {
  const three = w.size.length === 3;
  const sp = w.size.length === 1 ? [1, ...w.size] : w.size;
  const ks = w.kernel.length === 1 ? [1, ...w.kernel] : w.kernel;
  const out = outSize(w);
  const os = out.length === 1 ? [1, ...out] : out;
  const x = tf.tensor(random(w.n * w.cin * prod(w.size), 1), [w.n, ...sp, w.cin]);
  const k = tf.tensor(random(w.cout * w.cin * prod(w.kernel), 2), [...ks, w.cin, w.cout]);
  const dy = tf.tensor(random(w.n * w.cout * prod(out), 3), [w.n, ...os, w.cout]);
  const [fwd, bIn, bFilter] = three ? ['Conv3D', 'Conv3DBackpropInputV2', 'Conv3DBackpropFilterV2'] : ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'];
  const strides = three ? [1, 1, 1] : [1, 1];
  const common = { strides, pad: 'valid', dataFormat: three ? 'NDHWC' : 'NHWC', dilations: strides, dimRoundingMode: undefined };
  const run = async (...calls: [string, Record<string, tf.Tensor>, Record<string, unknown>][]) => {
    const outs = calls.map(([name, inputs, attrs]) => tf.engine().runKernel(name, inputs as never, attrs as never) as tf.Tensor);
    await Promise.all(outs.map((o) => o.data()));
    tf.dispose(outs);
  };
  const forward = await time(() => run([fwd, { x, filter: k }, common]));
  const backward = await time(() => run([bIn, { dy, filter: k }, { ...common, inputShape: x.shape }], [bFilter, { x, dy }, { ...common, filterShape: k.shape }]));
  tf.dispose([x, k, dy]);
  return [forward, backward];
}

function lenet(B: Backend): Network {
  return new Network(B, [...LENET.inShape], [
    conv({ ...LENET.conv1, activation: 'relu' }), maxPool({ window: LENET.pool }),
    conv({ ...LENET.conv2, activation: 'relu' }), maxPool({ window: LENET.pool }),
    flatten(), dense({ units: LENET.classes }),
  ], { seed: 1 });
}

async function main(): Promise<void> {
  const digits = readDigits(new Uint8Array(await (await fetch('dist/digits.bin')).arrayBuffer()));
  if (parts.includes('cpu')) {
    for (const [gemm, threads] of [['js', 1], ['wasm', 1], ['wasm', THREADS]] as const) {
      const r = await cpuStep(digits, gemm, threads);
      log({ part: 'cpu', what: `demo step (batch ${BATCH})`, engine: r.runs, ms: r.ms });
    }
  }
  const webgpu = parts.includes('gpu') || parts.includes('peers') ? await webgpuBackend().catch((e: Error) => e) : null;
  state.adapter = webgpu instanceof WebGpuBackend ? webgpu.describe() : String((webgpu as Error | null)?.message ?? 'not asked');
  if (parts.includes('gpu')) {
    for (const kind of ['webgpu', 'gpu.js'] as const) {
      let B: Backend;
      try {
        if (kind === 'webgpu' && !(webgpu instanceof WebGpuBackend)) throw webgpu;
        B = kind === 'webgpu' ? (webgpu as WebGpuBackend) : gpuBackend({ mode: 'webgl2' });
      } catch (e) {
        log({ part: 'gpu', what: `demo step (batch ${BATCH})`, engine: kind, ms: null, note: (e as Error).message });
        continue;
      }
      const net = new Network(B, [1, SIDE, SIDE], SPECS, { seed: 1 });
      const step = ndcnnStep(net, BATCH, 0.05);
      const ms = await time(step, GPU_STEPS);
      log({ part: 'gpu', what: `demo step (batch ${BATCH})`, engine: B.describe(), ms });
      net.dispose();
      if (kind === 'gpu.js') (B as ReturnType<typeof gpuBackend>).destroy();
    }
  }
  if (parts.includes('peers')) {
    const tfNote = (await tf.setBackend('webgpu')) ? null : 'TF.js could not initialise its webgpu backend';
    await tf.ready();
    for (const w of WORKLOADS) {
      const flops = convFlops(w);
      const title = `${w.id} ${w.title} (${(flops / 1e6).toFixed(0)} MFLOP a pass)`;
      if (webgpu instanceof WebGpuBackend) {
        const [f, b] = await ndcnnConv(webgpu, w);
        log({ part: 'peers', what: `${title} forward`, engine: 'ndcnn webgpu', ms: f });
        log({ part: 'peers', what: `${title} backward`, engine: 'ndcnn webgpu', ms: b });
      }
      if (tfNote) log({ part: 'peers', what: title, engine: 'tfjs webgpu', ms: null, note: tfNote });
      else {
        const [f, b] = await tfjsConv(w);
        log({ part: 'peers', what: `${title} forward`, engine: 'tfjs webgpu', ms: f });
        log({ part: 'peers', what: `${title} backward`, engine: 'tfjs webgpu', ms: b });
      }
    }
    const what = `W4 LeNet SGD step (batch ${W4_BATCH})`;
    if (webgpu instanceof WebGpuBackend) {
      const net = lenet(webgpu);
      log({ part: 'peers', what, engine: 'ndcnn webgpu', ms: await time(ndcnnStep(net, W4_BATCH, LENET.learningRate)) });
      net.dispose();
    }
    if (!tfNote) log({ part: 'peers', what, engine: 'tfjs webgpu', ms: await time(tfjsStep(W4_BATCH)) });
  }
  state.done = true;
}

main().catch((e: unknown) => {
  state.error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  state.done = true;
});
