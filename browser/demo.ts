/**
 * The demo page: a small CNN trained on MNIST digits with the library's `train` loop, on the
 * WebGPU backend, the gpu.js one (WebGL2 unless ?mode= asks for another) or the CPU backend, with
 * the batch loss and the held-out accuracy drawn as it learns. Each run starts from the same
 * weights and batch order (seed 1), so runs on different backends are directly comparable.
 * The GPU backends train on the page's thread (their work is on the device); the CPU backend in a
 * worker (trainer.ts), on its WebAssembly SIMD kernels, split over Web Workers.
 *
 * URL parameters: backend=auto|webgpu|gpu|cpu (the first run; default auto: WebGPU where
 * navigator.gpu gives an adapter, else gpu.js on WebGL2 where the browser has it, else the CPU,
 * and the page says which and why), mode=<gpu.js mode>, threads=N (the CPU's; default 2, or the
 * cores when fewer), gemm=wasm|js (the CPU's GEMM; default wasm), steps=N (stop each run after N
 * steps; default 10 epochs), eval=N (held-out accuracy every N steps; default 25). The page's
 * state is `window.ndcnnDemo`, which the browser tests read.
 */
import { Network } from '../src/network/index.js';
import type { Backend } from '../src/nd/backend.js';
import { GpuBackend, gpuBackend, gpuModes, type GpuMode } from '../src/nd/backends/gpu/index.js';
import { webgpuBackend } from '../src/nd/backends/webgpu/open.js';
import { WebGpuBackend } from '../src/nd/backends/webgpu/index.js';
import { readDigits, SIDE, type Digits } from './digits-format.js';
import { drawPlot, smooth } from './plot.js';
import { SPECS, trainDigits, type RunEvents } from './session.js';
import type { TrainerEvent, TrainerStart } from './trainer.js';

type Kind = 'webgpu' | 'gpu' | 'cpu';

export interface DemoRun {
  backend: Kind;
  /** What runs: backend.describe(), e.g. "gpu.js webgl2 (float32)"; the CPU's with its thread count. */
  runs: string;
  /** Why the asked-for gpu.js mode was not taken, or why the CPU runs fewer threads than asked (null when neither). */
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
  /** Whether the page is cross-origin isolated (SharedArrayBuffer, so CPU threads). */
  isolated: boolean;
  error?: string;
}

declare global {
  interface Window {
    ndcnnDemo?: DemoState;
  }
}

const COLORS = ['#1f6fd1', '#d1431f', '#2c9a3a', '#8a3fc1', '#c18a00'];
const params = new URLSearchParams(location.search);
const MODE = (params.get('mode') ?? 'webgl2') as GpuMode;
const MAX_STEPS = Number(params.get('steps') ?? 0);
const EVAL_EVERY = Number(params.get('eval') ?? 25);
const THREADS = Number(params.get('threads') ?? Math.min(2, navigator.hardwareConcurrency || 1));
const GEMM = params.get('gemm') ?? 'wasm';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const state: DemoState = { runs: [], digits: { train: 0, test: 0 }, modes: [], isolated: crossOriginIsolated };
let data: { train: Digits; test: Digits };
let current: { stop: AbortController; finished: Promise<void> } | null = null;

function setStatus(text: string, error = false): void {
  $('status').textContent = text;
  $('status').className = error ? 'error' : '';
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
  let drawn = 0;
  const events: RunEvents = {
    step: async (step, loss, ms) => {
      [run.steps, run.msPerStep] = [step, ms];
      run.losses.push(loss);
      if (performance.now() - drawn > 200) {
        draw();
        await breathe();
        drawn = performance.now();
      }
    },
    accuracy: (step, a) => void run.accuracy.push([step, a]),
  };
  const training = (runs: string, fallback: string | null) => {
    [run.runs, run.fallback] = [runs, fallback];
    $('backends').textContent = `this run: ${runs}`;
    const chosen = state.runs.length === 1 && state.choice ? ` (chosen: ${state.choice})` : '';
    setStatus(`Training on ${short(runs)}${chosen}${fallback ? ` — ${kind === 'cpu' ? '' : 'fell back: '}${fallback}` : ''}`);
  };
  try {
    const stopped = kind === 'cpu' ? await onWorker(stop.signal, training, events) : await onPage(kind, stop.signal, training, events);
    setStatus(`${stopped ? 'Stopped' : 'Finished'} after ${run.steps} steps on ${short(run.runs)}`);
  } catch (e) {
    run.error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    setStatus(`${kind.toUpperCase()} run failed: ${run.error}`, true);
  } finally {
    run.done = true;
    draw();
  }
}

type Starting = (runs: string, fallback: string | null) => void;

/** A GPU backend's run on the page's thread; resolves to whether it stopped early. */
async function onPage(kind: 'webgpu' | 'gpu', signal: AbortSignal, starting: Starting, events: RunEvents): Promise<boolean> {
  let backend: Backend | undefined;
  let net: Network | undefined;
  try {
    backend = kind === 'webgpu' ? await webgpuBackend() : gpuBackend({ mode: MODE, allowFallback: true });
    net = new Network(backend, [1, SIDE, SIDE], SPECS, { seed: 1 });
    $('net').textContent = net.summary();
    starting(backend.describe(), backend instanceof GpuBackend ? backend.fallback : null);
    return (await trainDigits(net, data, { maxSteps: MAX_STEPS, evalEvery: EVAL_EVERY, signal }, events)).stopped;
  } finally {
    net?.dispose();
    if (backend instanceof GpuBackend || backend instanceof WebGpuBackend) backend.destroy();
  }
}

/** The CPU backend's run in its worker (trainer.ts), which reports each step. */
function onWorker(signal: AbortSignal, starting: Starting, events: RunEvents): Promise<boolean> {
  const worker = new Worker(new URL('./trainer.js', import.meta.url), { type: 'module', name: 'ndcnn trainer' });
  signal.addEventListener('abort', () => worker.postMessage({ stop: true }), { once: true });
  return new Promise<boolean>((done, fail) => {
    // One event at a time, in order: a step's drawing may wait for a frame.
    let queue = Promise.resolve();
    worker.onerror = (e) => fail(new Error(`the CPU worker failed: ${e.message || 'its script did not load'}`));
    worker.onmessage = (m: MessageEvent<TrainerEvent>) => {
      const e = m.data;
      queue = queue.then(async () => {
        if (e.kind === 'started') {
          $('net').textContent = e.summary;
          starting(e.runs, e.note);
        } else if (e.kind === 'step') await events.step(e.step, e.loss, e.msPerStep);
        else if (e.kind === 'accuracy') await events.accuracy(e.step, e.accuracy);
        else if (e.kind === 'done') done(e.stopped);
        else fail(new Error(e.message));
      });
    };
    const start: TrainerStart = { start: { threads: THREADS, gemm: GEMM, maxSteps: MAX_STEPS, evalEvery: EVAL_EVERY, train: data.train, test: data.test, threadUrl: new URL('./thread.js', import.meta.url).href } };
    worker.postMessage(start);
  }).finally(() => worker.terminate());
}

/** "cpu (float32, gemm js)" without the reasons the faster GEMMs cannot load in a browser (the status line has them). */
function short(runs: string): string {
  const gemm = /^cpu \((\w+), gemm ([\w-]+).*?(, \d+ threads?.*)?$/.exec(runs);
  return gemm ? `cpu (${gemm[1]}, gemm ${gemm[2]})${gemm[3] ?? ''}` : runs;
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
