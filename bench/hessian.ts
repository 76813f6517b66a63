/**
 * The cost of curvature analysis on W4 (bench/nets.ts's LeNet, float32) over 1,000 samples:
 * Hv and Gv per second (one batch with its forward pass cached across products, and batches of
 * 250 that recompute it), the wall time of top-1 and top-5 eigenvalues (Lanczos, tol 1e-3), a
 * trace to 5 % standard error and a 10-probe density (20 Lanczos steps each). Beside it, PyTorch
 * (bench/torch_hessian.py, one thread) runs the same Lanczos by double backpropagation on the
 * same weights and data, handed over in a temporary file; skipped with a note without PyTorch.
 *
 *   npx tsx bench/hessian.ts [--out bench/results/hessian.json]
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../src/io/atomic.js';
import { CurvatureOperator, hutchinsonTrace, spectralDensity, topEigenpairs } from '../src/analysis/index.js';
import { lenet, randomBatch } from './nets.js';
import { LENET } from './workloads.js';

const { values: flags } = parseArgs({ options: { out: { type: 'string', default: 'bench/results/hessian.json' } } });
const SAMPLES = 1000;
const TOL = 1e-3;
const MAX_PROBES = 60;

const net = lenet();
const data = randomBatch(net, SAMPLES, LENET.classes, 7);

function seconds(fn: () => unknown): [number, unknown] {
  const t = performance.now();
  const r = fn();
  return [(performance.now() - t) / 1000, r];
}

function rate(op: CurvatureOperator, products: number): number {
  const v = new Float64Array(op.dim).fill(1 / Math.sqrt(op.dim));
  const out = new Float64Array(op.dim);
  op.apply(v, out); // warm-up: the first product also allocates the layers' buffers
  const [s] = seconds(() => {
    for (let i = 0; i < products; i++) op.apply(v, out);
  });
  return products / s;
}

// PyTorch first, on the same weights and data, so both engines run under similar load.
const dir = mkdtempSync(join(tmpdir(), 'ndcnn-hessian-bench-'));
let torch: Record<string, unknown> = { skipped: 'python3 with torch not found' };
try {
  writeFileSync(join(dir, 'x.f32'), Buffer.from(new Float32Array(data.x).buffer));
  writeFileSync(join(dir, 'y.i32'), Buffer.from((data.y as Int32Array).buffer));
  writeFileSync(join(dir, 'params.f32'), Buffer.from(new Float32Array(net.params).buffer));
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ ...LENET, samples: SAMPLES, tol: TOL, }));
  const r = spawnSync('python3', [join('bench', 'torch_hessian.py'), dir], { encoding: 'utf8', timeout: 600_000 });
  if (r.status === 0) torch = JSON.parse(r.stdout.trim().split('\n').pop() as string);
  else torch = { skipped: (r.stderr || r.error?.message || 'python3 failed').trim().split('\n').pop() };
} finally {
  rmSync(dir, { recursive: true, force: true });
}
console.log('pytorch:', JSON.stringify(torch));

const hv = new CurvatureOperator(net, data);
const gv = new CurvatureOperator(net, data, { operator: 'gauss-newton' });
const hvBatched = new CurvatureOperator(net, data, { batchSize: 250 });
const rates = { hv: rate(hv, 5), gv: rate(gv, 5), hvBatchesOf250: rate(hvBatched, 5) };
console.log(`W4, ${net.paramCount} parameters, ${SAMPLES} samples: Hv ${rates.hv.toFixed(2)}/s, Gv ${rates.gv.toFixed(2)}/s, Hv in batches of 250 ${rates.hvBatchesOf250.toFixed(2)}/s`);

const op = new CurvatureOperator(net, data);
const timed = <T>(what: string, fn: () => T): { seconds: number; products: number; result: T } => {
  const before = op.products;
  const [s, r] = seconds(fn);
  console.log(`${what}: ${s.toFixed(1)} s, ${op.products - before} products`);
  return { seconds: s, products: op.products - before, result: r as T };
};
const top1 = timed('top-1', () => topEigenpairs(op, { k: 1, tol: TOL, seed: 1 }));
const top5 = timed('top-5', () => topEigenpairs(op, { k: 5, tol: TOL, seed: 1 }));
// At most 60 probes here: where 5 % is not reached by then, the probes needed are projected
// from the measured spread (SE ∝ 1/√probes) and the time from the measured time per probe.
const trace = timed('trace to 5 % SE (at most 60 probes)', () => hutchinsonTrace(op, { maxProbes: MAX_PROBES, relativeStdError: 0.05, seed: 1 }));
const needed = Math.ceil(trace.result.probes * (trace.result.stdError / (0.05 * Math.abs(trace.result.trace))) ** 2);
const density = timed('density, 10 probes × 20 steps', () => spectralDensity(op, { probes: 10, steps: 20, seed: 1 }));



const result = {
  note: 'shared 2-core machine under load from other jobs: absolute times are noisy; compare ratios within this run',
  net: 'W4 (LeNet, float32)',
  parameters: net.paramCount,
  samples: SAMPLES,
  productsPerSecond: rates,
  top1: { seconds: top1.seconds, products: top1.products, value: top1.result.values[0], steps: top1.result.steps },
  top5: { seconds: top5.seconds, products: top5.products, values: top5.result.values },
  trace: {
    seconds: trace.seconds, products: trace.products, trace: trace.result.trace, stdError: trace.result.stdError,
    probesFor5PercentSE: Math.max(needed, trace.result.probes), secondsFor5PercentSE: (trace.seconds / trace.result.probes) * Math.max(needed, trace.result.probes),
  },
  density: { seconds: density.seconds, products: density.products },
  pytorch: torch,
};
writeFileAtomic(flags.out!, `${JSON.stringify(result, null, 1)}\n`);
