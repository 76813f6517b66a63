/**
 * The page's script: the same network, weights and batch on the CPU backend and on the GPU
 * backend (gpu.js in `?mode=…`, default webgl2; or `?backend=webgpu`: the WebGPU backend on
 * navigator.gpu, through its asynchronous passes), one forward pass (the outputs) and one
 * backward pass (the gradient), and the largest differences between them. The result goes into the page and into `window.ndcnnResult`, which
 * the browser test reads.
 */
import { conv, dense, flatten, maxPool } from '../src/layers/index.js';
import { Network } from '../src/network/index.js';
import { cpuBackend } from '../src/nd/backends/cpu/index.js';
import { gpuBackend, gpuModes, type GpuMode } from '../src/nd/backends/gpu/index.js';
import { webgpuBackend } from '../src/nd/backends/webgpu/open.js';
import type { Backend } from '../src/nd/backend.js';
import { Rng } from '../src/nd/rng.js';

export interface PageResult {
  cpu: string;
  gpu: string;
  /** Every gpu.js mode with why it cannot run in this browser. */
  modes: { mode: string; available: boolean; reason: string }[];
  loss: { cpu: number; gpu: number };
  /** max |gpu − cpu| over the outputs and over the gradient, and the largest |cpu| value of each. */
  maxDiff: { outputs: number; gradient: number };
  maxAbs: { outputs: number; gradient: number };
  error?: string;
}

declare global {
  interface Window {
    ndcnnResult?: PageResult | { error: string };
  }
}

const IN_SHAPE = [1, 12, 12];
const N = 4;
const CLASSES = 3;

function build(backend: Backend): Network {
  return new Network(
    backend,
    IN_SHAPE,
    [conv({ channels: 4, kernel: 3, activation: 'relu' }), maxPool({ window: 2 }), conv({ channels: 3, kernel: 2, activation: 'tanh', padding: 1 }), flatten(), dense({ units: CLASSES })],
    { loss: 'softmax-cross-entropy', seed: 1 },
  );
}

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

async function run(): Promise<PageResult> {
  const query = new URLSearchParams(location.search);
  const mode = (query.get('mode') ?? 'webgl2') as GpuMode;
  const rng = new Rng(2);
  const x = Float32Array.from({ length: N * 144 }, () => rng.normal());
  const y = Int32Array.from({ length: N }, () => rng.int(CLASSES));
  const batch = { x, y, n: N };
  const [c, g] = [build(cpuBackend('float32')), build(query.get('backend') === 'webgpu' ? await webgpuBackend() : gpuBackend({ mode }))];
  const [gc, gg] = [new Float32Array(c.paramCount), new Float32Array(g.paramCount)];
  const outC = c.predict(x, N);
  const outG = await g.predictAsync(x, N);
  const loss = { cpu: c.gradient(batch, gc), gpu: await g.gradientAsync(batch, gg) };
  return {
    cpu: c.backend.describe(),
    gpu: g.backend.describe(),
    modes: gpuModes(),
    loss,
    maxDiff: { outputs: maxDiff(outG, outC), gradient: maxDiff(gg, gc) },
    maxAbs: { outputs: maxAbs(outC), gradient: maxAbs(gc) },
  };
}

function show(r: PageResult): void {
  const rows = [
    ['', 'CPU backend', 'GPU backend', 'max |GPU − CPU|'],
    ['runs on', r.cpu, r.gpu, ''],
    ['loss', r.loss.cpu.toPrecision(7), r.loss.gpu.toPrecision(7), Math.abs(r.loss.gpu - r.loss.cpu).toExponential(2)],
    ['outputs (forward)', `max |·| ${r.maxAbs.outputs.toPrecision(4)}`, '', r.maxDiff.outputs.toExponential(2)],
    ['gradient (backward)', `max |·| ${r.maxAbs.gradient.toPrecision(4)}`, '', r.maxDiff.gradient.toExponential(2)],
  ];
  const table = document.getElementById('table')!;
  table.innerHTML = rows.map((row, i) => `<tr>${row.map((v) => (i === 0 ? `<th>${v}</th>` : `<td>${v}</td>`)).join('')}</tr>`).join('');
  document.getElementById('status')!.textContent = r.modes.map((m) => `${m.mode}: ${m.available ? 'available' : m.reason}`).join('\n');
}

try {
  const r = await run();
  show(r);
  window.ndcnnResult = r;
} catch (e) {
  const error = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  document.getElementById('status')!.textContent = error;
  window.ndcnnResult = { error };
}
