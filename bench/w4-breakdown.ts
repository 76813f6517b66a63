/**
 * Time per backend primitive in W4 training steps, or in W5's Gv or Hv products (wraps the CPU
 * backend's methods):  npx tsx bench/w4-breakdown.ts [steps] [step|gv|hv]
 */
import { lenet, randomBatch, sgdStep } from './nets.js';
import { LENET } from './workloads.js';

const steps = Number(process.argv[2] ?? 200);
const what = process.argv[3] ?? 'step';
const net = lenet();
const be = (net as unknown as { backend: Record<string, unknown> }).backend;
const times = new Map<string, number>();
const proto = Object.getPrototypeOf(be) as Record<string, unknown>;
for (const k of Object.getOwnPropertyNames(proto)) {
  const f = proto[k];
  if (typeof f !== 'function' || k === 'constructor') continue;
  be[k] = function (this: unknown, ...a: unknown[]) {
    const key = k === 'conv' || k.startsWith('conv') ? `${k} cin=${(a[3] as { cin: number }).cin}` : k;
    const t = performance.now();
    const r = (f as (...x: unknown[]) => unknown).apply(this, a);
    times.set(key, (times.get(key) ?? 0) + performance.now() - t);
    return r;
  };
}
const batch = randomBatch(net, LENET.batch, LENET.classes, 1);
const grad = new Float32Array(net.paramCount);
const v = grad.map((_, i) => Math.sin(i));
const run: Record<string, () => unknown> = {
  step: () => sgdStep(net, batch, grad, LENET.learningRate),
  gv: () => net.curvature(batch).gv(v, grad),
  hv: () => net.curvature(batch).hv(v, grad),
};
if (!run[what]) throw new Error(`unknown workload ${what}: step, gv or hv`);
for (let s = 0; s < 30; s++) run[what]();
times.clear();
const t0 = performance.now();
for (let s = 0; s < steps; s++) run[what]();
const total = (performance.now() - t0) / steps;
let inPrims = 0;
for (const [k, v] of [...times].sort((a, b) => b[1] - a[1])) {
  inPrims += v / steps;
  console.log(`${(v / steps).toFixed(3).padStart(7)} ms  ${k}`);
}
console.log(`${total.toFixed(3)} ms per ${what}, ${(total - inPrims).toFixed(3)} outside the primitives`);
