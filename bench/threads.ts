/**
 * Threads: W4 (LeNet SGD step, batch 64), W5 (Gv and Hv on it) and one Hessian-free step with a
 * 1,000-sample gradient and curvature batch (10 CG iterations, so every count does the same
 * work), each at every thread count asked for, on the same network, batches and parameters.
 * Prints one JSON object; bench/run.ts adds PyTorch at the same counts and reports the scaling.
 *   tsx bench/threads.ts 1 2
 */
import { createOptimizer, type HfReport } from '../src/optim/index.js';
import { Rng } from '../src/nd/rng.js';
import { measureOrProbe, type Timing } from './measure.js';
import { lenet, randomBatch, sgdStep } from './nets.js';
import { LENET } from './workloads.js';

export interface ThreadsResult {
  threads: number;
  W4: Timing;
  'W5 Gv': Timing;
  'W5 Hv': Timing;
  /** One HF step, and the CG iterations it ran (the same at every count unless rounding changes the stopping test). */
  hf: Timing & { cgIterations: number };
}

function run(threads: number): ThreadsResult {
  const net = lenet(threads);
  const batch = randomBatch(net, LENET.batch, LENET.classes, 1);
  const grad = new Float32Array(net.paramCount);
  const rng = new Rng(3);
  const v = Float32Array.from({ length: net.paramCount }, () => rng.normal());
  const out = new Float32Array(net.paramCount);
  const start = net.params.slice();
  const W4 = measureOrProbe(`W4 ${threads}`, () => sgdStep(net, batch, grad, LENET.learningRate));
  net.params.set(start);
  const gv = measureOrProbe(`W5 Gv ${threads}`, () => net.curvature(batch).gv(v, out));
  const hv = measureOrProbe(`W5 Hv ${threads}`, () => net.curvature(batch).hv(v, out));
  const big = randomBatch(net, 1000, LENET.classes, 2);
  let cgIterations = 0;
  // Each timed step starts from the same parameters and damping: the same work every time.
  const hfTiming = measureOrProbe(`HF step ${threads}`, () => {
    net.params.set(start);
    const hf = createOptimizer('hf', { curvatureBatch: 1000, maxCgIterations: 10, cgTolerance: 1e-12 });
    cgIterations = (hf.step(net, big) as HfReport).cgIterations;
  }, 20_000);
  net.dispose();
  return { threads, W4, 'W5 Gv': gv, 'W5 Hv': hv, hf: { ...hfTiming, cgIterations } };
}

const counts = process.argv.slice(2).map(Number);
const results = (counts.length ? counts : [1]).map((t) => {
  const r = run(t);
  process.stderr.write(`threads ${t}: W4 ${r.W4.ms.toFixed(2)} ms, Gv ${r['W5 Gv'].ms.toFixed(2)}, Hv ${r['W5 Hv'].ms.toFixed(2)}, HF step ${r.hf.ms.toFixed(0)} ms (${r.hf.cgIterations} CG)\n`);
  return r;
});
process.stdout.write(JSON.stringify(results) + '\n');
