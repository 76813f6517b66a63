/** Time per backend primitive in W4 training steps (wraps the CPU backend's methods). */
import { lenet, randomBatch, sgdStep } from './nets.js';
import { LENET } from './workloads.js';

const steps = Number(process.argv[2] ?? 200);
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
for (let s = 0; s < 30; s++) sgdStep(net, batch, grad, LENET.learningRate);
times.clear();
const t0 = performance.now();
for (let s = 0; s < steps; s++) sgdStep(net, batch, grad, LENET.learningRate);
const total = (performance.now() - t0) / steps;
let inPrims = 0;
for (const [k, v] of [...times].sort((a, b) => b[1] - a[1])) {
  inPrims += v / steps;
  console.log(`${(v / steps).toFixed(3).padStart(7)} ms  ${k}`);
}
console.log(`${total.toFixed(3)} ms/step, ${(total - inPrims).toFixed(3)} outside the primitives`);
