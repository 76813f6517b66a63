/**
 * The cost of the per-sample and diagonal curvature quantities relative to one gradient on the
 * same batch (issue 18's targets: norms and variance ≤ 1.5×, the Monte-Carlo GGN diagonal ≤ 2×,
 * the exact one ≤ C× for C outputs), on W4 (LeNet, batch 64), a 1-D net (1×2048, batch 32) and
 * the small 3-D net (1×12³, batch 8), float32, one thread. Each quantity's time is the median of
 * rounds that run every quantity once in turn, so all share the machine's load. PyTorch 1.13
 * (bench/torch_curvature_cost.py, one thread) computes the same quantities on the same weights
 * and data with functorch's vmap over per-sample gradients (torch.func's predecessor), timed the
 * same way, with the default allocator and with MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_
 * raised; skipped with a note when no python3 imports torch.
 *
 *   flock /tmp/ndcnn-bench.lock npx tsx bench/curvature-cost.ts [--rounds 21] [--out bench/results/curvature-cost.json]
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeFileAtomic } from '../src/io/atomic.js';
import type { Network } from '../src/network/index.js';
import { lenet, randomBatch, small1d, small3d } from './nets.js';
import { LENET, SMALL1D, SMALL3D } from './workloads.js';

const { values: flags } = parseArgs({ options: { rounds: { type: 'string', default: '21' }, out: { type: 'string', default: 'bench/results/curvature-cost.json' }, 'no-torch': { type: 'boolean', default: false } } });
const ROUNDS = Number(flags.rounds);

interface NetCase {
  id: string;
  net: Network;
  batch: number;
  classes: number;
}

const NETS: NetCase[] = [
  { id: 'W4 (LeNet 2-D)', net: lenet(), batch: LENET.batch, classes: LENET.classes },
  { id: '1-D (1×2048)', net: small1d(), batch: SMALL1D.batch, classes: SMALL1D.classes },
  { id: '3-D (1×12³)', net: small3d(), batch: SMALL3D.batch, classes: SMALL3D.classes },
];

/** The quantities, each one call on the batch; `gradient` is the baseline. */
const QUANTITIES: { id: string; target: (c: NetCase) => number | null; run: (net: Network, b: ReturnType<typeof randomBatch>, g: Float32Array) => unknown }[] = [
  { id: 'gradient', target: () => null, run: (net, b, g) => net.gradient(b, g) },
  { id: 'per-sample norms + variance', target: () => 1.5, run: (net, b) => net.perSample(b) },
  { id: 'per-sample gradients (materialised)', target: () => null, run: (net, b) => net.perSample(b, { gradients: true, norms: false, moments: false }) },
  { id: 'GGN diagonal, Monte-Carlo (1 sample)', target: () => 2, run: (net, b) => net.curvatureDiagonal(b, { estimate: 'mc' }) },
  { id: 'GGN diagonal, exact', target: (c) => c.classes, run: (net, b) => net.curvatureDiagonal(b) },
];

function median(a: number[]): number {
  const s = [...a].sort((x, y) => x - y);
  return s[Math.floor(s.length / 2)];
}

const rows: { net: string; quantity: string; ms: number; ratio: number; target: number | null }[] = [];
const torchInput: { id: string; specs: unknown; inShape: number[]; batch: number; classes: number; dir: string }[] = [];
const dir = mkdtempSync(join(tmpdir(), 'ndcnn-curvature-cost-'));
try {
  for (const c of NETS) {
    const b = randomBatch(c.net, c.batch, c.classes, 7);
    const g = new Float32Array(c.net.paramCount);
    for (let w = 0; w < 5; w++) for (const q of QUANTITIES) q.run(c.net, b, g); // warm-up: buffers, JIT
    const times = QUANTITIES.map(() => [] as number[]);
    for (let r = 0; r < ROUNDS; r++) {
      QUANTITIES.forEach((q, i) => {
        const t = performance.now();
        q.run(c.net, b, g);
        times[i].push(performance.now() - t);
      });
    }
    const base = median(times[0]);
    QUANTITIES.forEach((q, i) => rows.push({ net: c.id, quantity: q.id, ms: median(times[i]), ratio: median(times[i]) / base, target: q.target(c) }));
    const sub = join(dir, String(torchInput.length));
    mkdirSync(sub);
    writeFileSync(join(sub, 'x.f32'), Buffer.from(new Float32Array(b.x).buffer));
    writeFileSync(join(sub, 'y.i32'), Buffer.from((b.y as Int32Array).buffer));
    writeFileSync(join(sub, 'params.f32'), Buffer.from(new Float32Array(c.net.params).buffer));
    torchInput.push({ id: c.id, specs: c.net.specs, inShape: [...c.net.inShape], batch: c.batch, classes: c.classes, dir: sub });
  }
  let torch: unknown[] = [];
  const notes: string[] = [];
  if (!flags['no-torch']) {
    writeFileSync(join(dir, 'nets.json'), JSON.stringify({ rounds: ROUNDS, nets: torchInput }));
    for (const [label, extra] of [['default allocator', {}], ['MALLOC_MMAP_THRESHOLD_/TRIM raised', { MALLOC_MMAP_THRESHOLD_: '1073741824', MALLOC_TRIM_THRESHOLD_: '1073741824' }]] as const) {
      const r = spawnSync('/usr/bin/python3', ['bench/torch_curvature_cost.py', join(dir, 'nets.json')], { encoding: 'utf8', env: { ...process.env, ...extra }, timeout: 900_000 });
      if (r.status === 0) torch = [...torch, ...JSON.parse(r.stdout.trim().split('\n').pop() as string).map((t: object) => ({ ...t, allocator: label }))];
      else notes.push(`PyTorch (${label}) failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`);
    }
  }
  const table = ['| net | quantity | ms | × gradient | target | PyTorch ms (× its gradient) | PyTorch, malloc thresholds raised |', '|---|---|---|---|---|---|---|'];
  for (const r of rows) {
    const t = (alloc: string) => {
      const m = (torch as { net: string; quantity: string; ms: number; ratio: number; allocator: string }[]).find((x) => x.net === r.net && x.quantity === r.quantity && x.allocator.startsWith(alloc));
      return m ? `${m.ms.toFixed(2)} (${m.ratio.toFixed(2)}×)` : '—';
    };
    table.push(`| ${r.net} | ${r.quantity} | ${r.ms.toFixed(2)} | ${r.ratio.toFixed(2)} | ${r.target === null ? '' : `≤ ${r.target}`} | ${t('default')} | ${t('MALLOC')} |`);
  }
  console.log(table.join('\n'));
  for (const n of notes) console.log(`note: ${n}`);
  writeFileAtomic(flags.out, `${JSON.stringify({ date: new Date().toISOString(), rounds: ROUNDS, rows, torch, notes }, null, 1)}\n`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
