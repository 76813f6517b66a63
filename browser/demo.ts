/**
 * The demo page: a small CNN trained on MNIST digits with the library's `train` loop, on the
 * WebGPU backend, the gpu.js one (WebGL2 unless ?mode= asks for another) or the CPU backend, with the batch
 * loss and the held-out accuracy drawn as it learns. Each run starts from the same weights and
 * batch order (seed 1), so runs on the two backends are directly comparable.
 *
 * URL parameters: backend=auto|webgpu|gpu|cpu (the first run; default auto: WebGPU where
 * navigator.gpu gives an adapter, else gpu.js on WebGL2 where the browser has it, else the CPU,
 * and the page says which and why), mode=<gpu.js mode>,
 * steps=N (stop each run after N steps; default 10 epochs), eval=N (held-out accuracy every N
 * steps; default 25). The page's state is `window.ndcnnDemo`, which the browser test reads.
 */
import { conv, dense, flatten, maxPool } from '../src/layers/index.js';
import { Network } from '../src/network/index.js';
import type { Backend } from '../src/nd/backend.js';
import { cpuBackend } from '../src/nd/backends/cpu/index.js';
import { GpuBackend, gpuBackend, gpuModes, type GpuMode } from '../src/nd/backends/gpu/index.js';
import { webgpuBackend } from '../src/nd/backends/webgpu/open.js';
import { WebGpuBackend } from '../src/nd/backends/webgpu/index.js';
import { Sgd, train } from '../src/optim/index.js';
import { PIXELS, readDigits, SIDE, type Digits } from './digits-format.js';
import { drawPlot, smooth } from './plot.js';

type Kind = 'webgpu' | 'gpu' | 'cpu';

export interface DemoRun {
  backend: Kind;
  /** What runs: backend.describe(), e.g. "gpu.js webgl2 (float32)". */
  runs: string;
  /** Why the asked-for gpu.js mode was not taken (null when it was, or on the CPU). */
  fallback: string | null;
  steps: number;
  losses: number[];
  /** [step, held-out accuracy] */
  accuracy: [number, number][];
  /** Mean wall time of the last 20 steps (the first steps also compile gpu.js kernels). */
  msPerStep: number;
  done: boolean;
  error?: string;
}

export interface DemoState {
  runs: DemoRun[];
  digits: { train: number; test: number };
  modes: { mode: string; available: boolean; reason: string }[];
  /** What `backend=auto` chose for the first run, and why. */
  choice?: string;
  error?: string;
}

declare global {
  interface Window {
    ndcnnDemo?: DemoState;
  }
}

const SPECS = [
  conv({ channels: 8, kernel: 5, activation: 'relu' as const }),
  maxPool({ window: 2 }),
  conv({ channels: 16, kernel: 5, activation: 'relu' as const }),
  maxPool({ window: 2 }),
  flatten(),
  dense({ units: 10 }),
];
const BATCH = 32;
const COLORS = ['#1f6fd1', '#d1431f', '#2c9a3a', '#8a3fc1', '#c18a00'];
const params = new URLSearchParams(location.search);
const MODE = (params.get('mode') ?? 'webgl2') as GpuMode;
const MAX_STEPS = Number(params.get('steps') ?? 0);
const EVAL_EVERY = Number(params.get('eval') ?? 25);

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const state: DemoState = { runs: [], digits: { train: 0, test: 0 }, modes: [] };
let data: { train: Digits; test: Digits };
let current: { stop: AbortController; finished: Promise<void> } | null = null;

function setStatus(text: string, error = false): void {
  $('status').textContent = text;
  $('status').className = error ? 'error' : '';
}

/** Share of held-out digits whose largest output is their label. */
async function accuracy(net: Network, set: Digits): Promise<number> {
  const z = await net.predictAsync(set.x);
  let right = 0;
  for (let i = 0; i < set.y.length; i++) {
    let best = 0;
    for (let k = 1; k < 10; k++) if (z[i * 10 + k] > z[i * 10 + best]) best = k;
    if (best === set.y[i]) right++;
  }
  return right / set.y.length;
}

/** Lets the browser paint (and the Stop button work) without stalling in a background tab. */
const breathe = () => new Promise<void>((done) => {
  requestAnimationFrame(() => done());
  setTimeout(done, 50);
});

async function start(kind: Kind): Promise<void> {
  if (current) {
    current.stop.abort();
    await current.finished;
  }
  const stop = new AbortController();
  const finished = runOn(kind, stop);
  current = { stop, finished };
  await finished;
}

async function runOn(kind: Kind, stop: AbortController): Promise<void> {
  const run: DemoRun = { backend: kind, runs: '', fallback: null, steps: 0, losses: [], accuracy: [], msPerStep: 0, done: false };
  state.runs.push(run);
  let backend: Backend | undefined;
  let net: Network | undefined;
  try {
    backend = kind === 'webgpu' ? await webgpuBackend() : kind === 'gpu' ? gpuBackend({ mode: MODE, allowFallback: true }) : cpuBackend('float32');
    run.runs = backend.describe();
    run.fallback = backend instanceof GpuBackend ? backend.fallback : null;
    net = new Network(backend, [1, SIDE, SIDE], SPECS, { seed: 1 });
    $('net').textContent = net.summary();
    $('backends').textContent = `this run: ${run.runs}`;
    const chosen = state.runs.length === 1 && state.choice ? ` (chosen: ${state.choice})` : '';
    setStatus(`Training on ${short(run.runs)}${chosen}${run.fallback ? ` — fell back: ${run.fallback}` : ''}`);
    const stamps = [performance.now()];
    let drawn = 0;
    const model = net;
    await train(model, { x: data.train.x, y: data.train.y, sampleSize: PIXELS }, {
      optimizer: new Sgd({ lr: 0.05, momentum: 'nesterov', mu: 0.9 }),
      epochs: 10,
      batchSize: BATCH,
      seed: 1,
      signal: stop.signal,
      onStep: async ({ step, report }) => {
        run.steps = step;
        run.losses.push(report.loss);
        stamps.push(performance.now());
        const back = Math.min(20, step);
        run.msPerStep = (stamps[step] - stamps[step - back]) / back;
        if (step % EVAL_EVERY === 0) run.accuracy.push([step, await accuracy(model, data.test)]);
        if (MAX_STEPS > 0 && step >= MAX_STEPS) stop.abort();
        if (performance.now() - drawn > 200) {
          draw();
          await breathe();
          drawn = performance.now();
        }
        // Evaluation and drawing are not training: the next step's clock starts now.
        stamps[step] = performance.now();
      },
    });
    if (run.accuracy.at(-1)?.[0] !== run.steps && run.steps > 0) run.accuracy.push([run.steps, await accuracy(model, data.test)]);
    setStatus(`${stop.signal.aborted ? 'Stopped' : 'Finished'} after ${run.steps} steps on ${short(run.runs)}`);
  } catch (e) {
    run.error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    setStatus(`${kind.toUpperCase()} run failed: ${run.error}`, true);
  } finally {
    net?.dispose();
    if (backend instanceof GpuBackend || backend instanceof WebGpuBackend) backend.destroy();
    run.done = true;
    draw();
  }
}

/** "cpu (float32, gemm js)" without the reasons the faster GEMMs cannot load in a browser (the status line has them). */
function short(runs: string): string {
  const gemm = /^cpu \((\w+), gemm ([\w-]+)/.exec(runs);
  return gemm ? `cpu (${gemm[1]}, gemm ${gemm[2]})` : runs;
}

function draw(): void {
  const name = (r: DemoRun, i: number) => `#${i + 1} ${r.backend === 'webgpu' ? 'WebGPU' : r.backend.toUpperCase()}${r.backend === 'gpu' ? ` (${r.runs.split(' ')[1] ?? '?'})` : ''}`;
  const color = (i: number) => COLORS[i % COLORS.length];
  const raw = state.runs.map((r, i) => ({ color: color(i), faint: true, points: r.losses.map((l, k) => [k + 1, l] as const) }));
  // Later runs dashed: runs on the two backends follow each other to rounding, and would hide each other.
  const trend = state.runs.map((r, i) => ({ label: name(r, i), color: color(i), points: smooth(r.losses), dashed: i > 0 }));
  drawPlot($('loss'), [...raw, ...trend], {
    title: 'training loss (batch cross-entropy; bold: moving average)',
    xLabel: 'step',
  });
  drawPlot($('accuracy'), state.runs.map((r, i) => ({ label: name(r, i), color: color(i), points: r.accuracy, dots: true, dashed: i > 0 })), {
    title: `accuracy on ${state.digits.test} held-out digits`,
    xLabel: 'step',
    yRange: [0, 1],
  });
  const rows = state.runs.map((r, i) => {
    const recent = r.losses.slice(-20);
    const loss = recent.length ? (recent.reduce((a, b) => a + b, 0) / recent.length).toFixed(3) : '–';
    const acc = r.accuracy.at(-1);
    return `<tr><td style="color:${color(i)}">${name(r, i)}</td><td>${short(r.runs)}${r.fallback ? ` (fallback: ${r.fallback})` : ''}</td>
      <td class="num">${r.steps}</td><td class="num">${r.msPerStep ? r.msPerStep.toFixed(0) : '–'}</td>
      <td class="num">${loss}</td><td class="num">${acc ? `${(100 * acc[1]).toFixed(1)} %` : '–'}</td><td>${r.error ?? (r.done ? 'done' : 'running')}</td></tr>`;
  });
  $('runs').innerHTML = `<tr><th>run</th><th>backend</th><th>steps</th><th>ms/step</th><th>loss (last 20)</th><th>held-out accuracy</th><th></th></tr>${rows.join('')}`;
}

async function main(): Promise<void> {
  window.ndcnnDemo = state;
  if (location.protocol === 'file:') return; // the page's inline script has said what to do
  state.modes = gpuModes();
  $('modes').textContent = state.modes.map((m) => `${m.mode}: ${m.available ? 'available' : m.reason}`).join('\n');
  const response = await fetch('dist/digits.bin');
  if (!response.ok) throw new Error(`dist/digits.bin: HTTP ${response.status}; build the page with npm run demo`);
  const digits = readDigits(new Uint8Array(await response.arrayBuffer()));
  data = digits;
  state.digits = { train: digits.header.train, test: digits.header.test };
  const buttons = { webgpu: $<HTMLButtonElement>('webgpu'), gpu: $<HTMLButtonElement>('gpu'), cpu: $<HTMLButtonElement>('cpu'), stop: $<HTMLButtonElement>('stop') };
  buttons.webgpu.onclick = () => void start('webgpu');
  buttons.gpu.onclick = () => void start('gpu');
  buttons.cpu.onclick = () => void start('cpu');
  buttons.stop.onclick = () => current?.stop.abort();
  for (const b of Object.values(buttons)) b.disabled = false;
  const asked = params.get('backend') ?? 'auto';
  const first = asked === 'webgpu' || asked === 'gpu' || asked === 'cpu' ? asked : await pick();
  $('backends').textContent = state.choice ?? '';
  await start(first);
}

/** backend=auto: WebGPU where there is an adapter, else gpu.js on WebGL2 where it runs, else the CPU; says why in state.choice. */
async function pick(): Promise<Kind> {
  const gpu = (navigator as { gpu?: GPU }).gpu;
  const adapter = gpu ? await gpu.requestAdapter().catch(() => null) : null;
  if (adapter) {
    state.choice = 'WebGPU: navigator.gpu gave an adapter';
    return 'webgpu';
  }
  const why = gpu ? 'navigator.gpu gave no adapter' : 'this browser has no navigator.gpu';
  const webgl2 = state.modes.find((m) => m.mode === 'webgl2');
  if (webgl2?.available) {
    state.choice = `gpu.js on WebGL2: ${why}`;
    return 'gpu';
  }
  state.choice = `the CPU: ${why}, and WebGL2 is unavailable (${webgl2?.reason ?? 'unknown'})`;
  return 'cpu';
}

main().catch((e: unknown) => {
  state.error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  setStatus(state.error, true);
});
