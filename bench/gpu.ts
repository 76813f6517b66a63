/**
 * The GPU backend per primitive and per training step, in every gpu.js mode that runs here,
 * with the CPU backend (float32) in the same run as the baseline. Run it under a display to
 * include headlessgl:  xvfb-run -a npx tsx bench/gpu.ts
 *
 * GL kernels run asynchronously, so each primitive case issues REPS calls and then downloads
 * the result once: that read waits for the queue, and the time per call includes 1/REPS of one
 * readback. A training step (gradient + SGD update on the LeNet-like net of workloads.ts)
 * includes all its real transfers: the parameter upload, the output read and the gradient write-back.
 */
import { conv, dense, flatten, maxPool } from '../src/layers/index.js';
import { Network } from '../src/network/index.js';
import type { Backend, Tensor } from '../src/nd/backend.js';
import { cpuBackend } from '../src/nd/backends/cpu/index.js';
import { gpuBackend, gpuModes, type GpuMode } from '../src/nd/backends/gpu/index.js';
import { ConvGeometry, PoolGeometry } from '../src/nd/geometry.js';
import { Rng } from '../src/nd/rng.js';
import { sizeOf, type Shape } from '../src/nd/shape.js';
import { measure } from './measure.js';
import { LENET } from './workloads.js';

const REPS = 5;
const rng = new Rng(1);
const rand = (shape: Shape) => Float32Array.from({ length: sizeOf(shape) }, () => rng.normal());

interface Case {
  name: string;
  /** Prepares the tensors on a backend and returns one timed call (REPS ops and a readback). */
  setup(b: Backend): () => void;
}

const convG = new ConvGeometry('bench', [8, 32, 32], { channels: 16, kernel: 3, padding: 1 });
const conv3G = new ConvGeometry('bench', [4, 16, 16, 16], { channels: 8, kernel: 3 });
const poolG = new PoolGeometry('bench', [16, 32, 32], { window: 2 });
const BATCH = 16;

function repeat(b: Backend, out: Tensor, op: () => void): () => void {
  return () => {
    for (let r = 0; r < REPS; r++) op();
    b.download(out);
  };
}

function convCase(label: string, g: ConvGeometry, which: 'conv' | 'convBackData' | 'convBackFilter'): Case {
  return {
    name: `${which} ${label} ${JSON.stringify(g.inShape(BATCH))}→${g.cout}·k${g.kernel.join('x')}`,
    setup(b) {
      const [x, y, w] = [b.upload(g.inShape(BATCH), rand(g.inShape(BATCH))), b.upload(g.outShape(BATCH), rand(g.outShape(BATCH))), b.upload(g.weightShape(), rand(g.weightShape()))];
      if (which === 'conv') return repeat(b, y, () => b.conv(y, x, w, g, false));
      if (which === 'convBackData') return repeat(b, x, () => b.convBackData(x, y, w, g, false));
      return repeat(b, w, () => b.convBackFilter(w, x, y, g, false));
    },
  };
}

const CASES: Case[] = [
  convCase('2-D', convG, 'conv'),
  convCase('2-D', convG, 'convBackData'),
  convCase('2-D', convG, 'convBackFilter'),
  convCase('3-D', conv3G, 'conv'),
  {
    name: 'gemm 256×512 · 512×256',
    setup(b) {
      const [A, B, C] = [b.upload([256, 512], rand([256, 512])), b.upload([512, 256], rand([512, 256])), b.zeros([256, 256])];
      return repeat(b, C, () => b.gemm(C, A, B, false, false, 1, 0));
    },
  },
  {
    name: `maxPool ${JSON.stringify(poolG.inShape(BATCH))} w2`,
    setup(b) {
      const [x, y, a] = [b.upload(poolG.inShape(BATCH), rand(poolG.inShape(BATCH))), b.zeros(poolG.outShape(BATCH)), b.zeros(poolG.outShape(BATCH))];
      return repeat(b, y, () => b.maxPool(y, a, x, poolG));
    },
  },
  {
    name: 'activation tanh′ 1M',
    setup(b) {
      const x = b.upload([1 << 20], rand([1 << 20]));
      const y = b.zeros([1 << 20]);
      return repeat(b, y, () => b.activation(y, x, 'tanh', 1));
    },
  },
  {
    name: `training step LeNet-like, batch ${LENET.batch}`,
    setup(b) {
      const net = new Network(b, [...LENET.inShape], [
        conv({ ...LENET.conv1, activation: 'relu' }), maxPool({ window: LENET.pool }),
        conv({ ...LENET.conv2, activation: 'relu' }), maxPool({ window: LENET.pool }),
        flatten(), dense({ units: LENET.classes }),
      ], { seed: 1 });
      const n = LENET.batch;
      const batch = { x: rand([n, ...LENET.inShape]), y: Int32Array.from({ length: n }, () => rng.int(LENET.classes)), n };
      const grad = new Float32Array(net.paramCount);
      return () => {
        net.gradient(batch, grad);
        for (let i = 0; i < grad.length; i++) net.params[i] -= LENET.learningRate * grad[i];
      };
    },
  },
];

function main(): void {
  const modes = gpuModes();
  for (const m of modes.filter((s) => !s.available)) console.log(`(${m.mode} not measured: ${m.reason})`);
  const runs: [string, Backend][] = [['cpu f32', cpuBackend('float32')]];
  for (const m of modes.filter((s) => s.available)) runs.push([m.mode, gpuBackend({ mode: m.mode as GpuMode })]);
  console.log(runs.map(([, b]) => `- ${b.describe()}`).join('\n'));
  console.log('Software WebGL (Mesa/ANGLE on the CPU) is not a real GPU: the ratios say nothing of hardware speed.\n');

  const header = ['case', ...runs.map(([n]) => `${n} ms`), ...runs.slice(1).map(([n]) => `${n}/cpu`)];
  const rows: string[][] = [];
  for (const c of CASES) {
    const ms = runs.map(([, b]) => {
      const call = c.setup(b);
      call(); // compile kernels and size buffers outside the timing
      const per = c.name.startsWith('training') ? 1 : REPS;
      return measure(c.name, call, { maxTime: 1, minSamples: 3 }).ms / per;
    });
    rows.push([c.name, ...ms.map((t) => t.toFixed(2)), ...ms.slice(1).map((t) => (t / ms[0]).toFixed(2))]);
    console.error(`done: ${c.name}`);
  }
  const width = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((v, i) => v.padEnd(width[i])).join(' | ')} |`;
  console.log([line(header), line(width.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n'));
  console.log('\nratio = mode ms / cpu ms (below 1: faster than the CPU backend).');
}

main();
