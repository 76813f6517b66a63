/**
 * A/B in one process: W4 (a LeNet SGD step) and W5 (Gv, Hv on its batch) of this tree against
 * another checkout of ndcnn (e.g. `git archive main src bench | tar -x -C /tmp/main` with
 * node_modules linked in), alternating A and B round by round so that a loaded machine slows
 * both alike. Prints each side's median ms and the median of the per-round ratios B/A.
 *   npx tsx bench/ab.ts OTHER_ROOT [rounds]
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import * as here from './nets.js';
import { LENET } from './workloads.js';

const other = process.argv[2];
if (!other) throw new Error('usage: tsx bench/ab.ts OTHER_ROOT [rounds]');
const rounds = Number(process.argv[3] ?? 9);
const there = (await import(pathToFileURL(resolve(other, 'bench/nets.ts')).href)) as typeof here;

type Nets = typeof here;
function workloads(m: Nets): Record<string, () => void> {
  const net = m.lenet();
  const batch = m.randomBatch(net, LENET.batch, LENET.classes, 1);
  const grad = new Float32Array(net.paramCount);
  const v = new Float32Array(net.paramCount).map((_, i) => Math.sin(i));
  const out = new Float32Array(net.paramCount);
  return {
    'W4 step': () => m.sgdStep(net, batch, grad, LENET.learningRate),
    'W5 Gv': () => net.curvature(batch).gv(v, out),
    'W5 Hv': () => net.curvature(batch).hv(v, out),
  };
}

const median = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1];
function time(f: () => void, reps: number): number {
  const t = performance.now();
  for (let i = 0; i < reps; i++) f();
  return (performance.now() - t) / reps;
}

const [A, B] = [workloads(here), workloads(there)];
for (const name of Object.keys(A)) {
  for (let i = 0; i < 20; i++) [A[name](), B[name]()];
  const [ta, tb, ratio] = [[], [], []] as number[][];
  for (let r = 0; r < rounds; r++) {
    ta.push(time(A[name], 20));
    tb.push(time(B[name], 20));
    ratio.push(tb[r] / ta[r]);
  }
  console.log(`${name}: this ${median(ta).toFixed(2)} ms, other ${median(tb).toFixed(2)} ms, other/this ${median(ratio).toFixed(2)}× (median of ${rounds} alternating rounds)`);
}
