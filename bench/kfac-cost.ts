/**
 * What K-FAC's factors cost against one gradient, on W4 (LeNet, batch 64), a 1-D net (log-mel
 * sized input [40, 101], batch 32) and a 3-D net (MRI-patch sized [1, 16, 16, 16], batch 16),
 * float32, one thread (`--threads N`: the batch split over N, K-FAC's factor pass too), all in one
 * run so the ratios share the machine's state. Per net:
 *   gradient         forward + backward (Network.gradient)
 *   factors          forward + one sampled-target backward + the Gram matrices (Fisher factors)
 *   gradient+factors what a K-FAC step computes: one forward, the true-target backward for the
 *                    gradient, the sampled one for G, and the Grams
 *   empirical        gradient + empirical-Fisher factors (one backward serves both)
 *   type-2           forward + one backward per class (exact-GGN factors)
 *   eigen            eigendecomposition of every factor (the inverse refresh), for scale
 * Beside it PyTorch (bench/torch_kfac.py, as many threads) computes the same Fisher factors by the
 * same algorithm (im2col by F.unfold where it exists, else strided slices; Grams by matmul) on
 * the same weights and data, handed over in a temporary file, twice: as it is, and with glibc's
 * mmap and trim thresholds raised (BIG_MALLOC); skipped with a note without torch.
 *
 *   npx tsx bench/kfac-cost.ts [--threads N] [--out bench/results/kfac-cost.json]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { eigenSolver, eigenSymmetric } from '../src/analysis/index.js';
import { writeFileAtomic } from '../src/io/atomic.js';
import { conv, dense, flatten, maxPool, type LayerSpec } from '../src/layers/index.js';
import { Network } from '../src/network/index.js';
import { cpuBackend } from '../src/nd/backends/cpu/index.js';
import { measure, type Timing } from './measure.js';
import { randomBatch } from './nets.js';
import { LENET } from './workloads.js';

const { values: flags } = parseArgs({ options: { out: { type: 'string', default: 'bench/results/kfac-cost.json' }, threads: { type: 'string', default: '1' } } });
const threads = Number(flags.threads);
if (!Number.isInteger(threads) || threads < 1) {
  console.error(`kfac-cost: --threads must be a positive integer, got '${flags.threads}'`);
  process.exit(2);
}

interface Net { id: string; title: string; inShape: number[]; batch: number; classes: number; specs: LayerSpec[] }

const NETS: Net[] = [
  {
    id: 'W4', title: 'LeNet 28×28, batch 64', inShape: [...LENET.inShape], batch: LENET.batch, classes: LENET.classes,
    specs: [conv({ ...LENET.conv1, activation: 'relu' }), maxPool({ window: 2 }), conv({ ...LENET.conv2, activation: 'relu' }), maxPool({ window: 2 }), flatten(), dense({ units: 10 })],
  },
  {
    id: '1-D', title: 'conv 40→32 k5 · pool · conv 32→32 k5 · pool · dense, [40, 101], batch 32', inShape: [40, 101], batch: 32, classes: 10,
    specs: [conv({ channels: 32, kernel: 5, activation: 'relu' }), maxPool({ window: 2 }), conv({ channels: 32, kernel: 5, activation: 'relu' }), maxPool({ window: 2 }), flatten(), dense({ units: 10 })],
  },
  {
    id: '3-D', title: 'conv 1→8 3³ · pool · conv 8→16 3³ · pool · dense, [1, 16³], batch 16', inShape: [1, 16, 16, 16], batch: 16, classes: 4,
    specs: [conv({ channels: 8, kernel: 3, padding: 1, activation: 'relu' }), maxPool({ window: 2 }), conv({ channels: 16, kernel: 3, padding: 1, activation: 'relu' }), maxPool({ window: 2 }), flatten(), dense({ units: 4 })],
  },
];

/** glibc thresholds raised (the largest mmap threshold it takes): PyTorch's allocator otherwise pays this VM's page faults. */
const BIG_MALLOC = { MALLOC_MMAP_THRESHOLD_: String(32 << 20), MALLOC_TRIM_THRESHOLD_: String(1 << 30) };
const torchPython = ['python3', '/usr/bin/python3'].find((py) => spawnSync(py, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0);

const rows = NETS.map((spec) => {
  const net = new Network(cpuBackend('float32'), spec.inShape, spec.specs, { seed: 1, threads });
  const batch = randomBatch(net, spec.batch, spec.classes, 3);
  const grad = new Float32Array(net.paramCount);
  const t: Record<string, Timing> = {};
  t.gradient = measure('gradient', () => net.gradient(batch, grad));
  t.factors = measure('factors', () => net.kroneckerFactors(batch, { kind: 'fisher' }));
  t.gradientFactors = measure('gradient+factors', () => net.kroneckerFactors(batch, { kind: 'fisher' }, grad));
  t.empirical = measure('empirical', () => net.kroneckerFactors(batch, { kind: 'empirical' }, grad));
  t.type2 = measure('type-2', () => net.kroneckerFactors(batch, { kind: 'ggn' }));
  const { factors } = net.kroneckerFactors(batch, { kind: 'fisher' });
  t.eigen = measure('eigen', () => {
    for (const b of factors.kronecker) {
      eigenSymmetric(b.A, b.cols + (b.bias === null ? 0 : 1));
      eigenSymmetric(b.G, b.rows);
    }
  }, { minSamples: 3 });
  const sizes = factors.kronecker.map((b) => `${b.cols + (b.bias === null ? 0 : 1)}/${b.rows}`).join(', ');
  let torch: Record<string, unknown> = { skipped: 'no python3 here imports torch' };
  if (torchPython) {
    const dir = mkdtempSync(join(tmpdir(), 'ndcnn-kfac-bench-'));
    try {
      writeFileSync(join(dir, 'x.f32'), Buffer.from(new Float32Array(batch.x).buffer));
      writeFileSync(join(dir, 'y.i32'), Buffer.from((batch.y as Int32Array).buffer));
      writeFileSync(join(dir, 'params.f32'), Buffer.from(new Float32Array(net.params).buffer));
      writeFileSync(join(dir, 'config.json'), JSON.stringify({ inShape: spec.inShape, n: spec.batch, specs: spec.specs, threads }));
      const peer = (env: Record<string, string>) => {
        const r = spawnSync(torchPython, [join('bench', 'torch_kfac.py'), dir], { encoding: 'utf8', timeout: 600_000, env: { ...process.env, ...env } });
        return r.status === 0 ? JSON.parse(r.stdout.trim().split('\n').pop() as string) : { skipped: (r.stderr || 'python3 failed').trim().split('\n').pop() };
      };
      torch = { plain: peer({}), bigMalloc: peer(BIG_MALLOC) };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  net.dispose();
  const ratio = (k: string) => t[k].ms / t.gradient.ms;
  console.log(`${spec.id} (${spec.title}; A/G sizes ${sizes}): gradient ${t.gradient.ms.toFixed(2)} ms; factors ${ratio('factors').toFixed(2)}×, ` +
    `gradient+factors ${ratio('gradientFactors').toFixed(2)}×, empirical ${ratio('empirical').toFixed(2)}×, type-2 ${ratio('type2').toFixed(2)}×, ` +
    `eigen (${eigenSolver}) ${t.eigen.ms.toFixed(1)} ms; PyTorch ${JSON.stringify(torch)}`);
  return { net: spec.id, title: spec.title, parameters: net.paramCount, factorSizes: sizes, ms: Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v.ms])), rme: Object.fromEntries(Object.entries(t).map(([k, v]) => [k, v.rme])), torch };
});

writeFileAtomic(flags.out!, `${JSON.stringify({ date: new Date().toISOString(), eigenSolver, threads, note: `${threads} thread${threads > 1 ? 's' : ''} each; float32; ratios within this run`, rows }, null, 1)}\n`);
console.log(`wrote ${flags.out}`);
