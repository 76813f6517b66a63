/**
 * W4 training steps for a CPU profile, on `threads` threads (default 1; the calling thread's
 * profile then shows its share and its waits, each worker writes its own):
 *   node --cpu-prof --cpu-prof-dir=bench/results/prof --import tsx bench/profile-w4.ts [steps] [threads]
 *   npx tsx bench/prof-summary.ts bench/results/prof/*.cpuprofile
 * `npm run bench` runs it at 1 thread and at all cores and reports the calling thread's profile.
 */
import { lenet, randomBatch, sgdStep } from './nets.js';
import { LENET } from './workloads.js';

const steps = Number(process.argv[2] ?? 100);
const net = lenet(Number(process.argv[3] ?? 1));
const batch = randomBatch(net, LENET.batch, LENET.classes, 1);
const grad = new Float32Array(net.paramCount);
const t0 = performance.now();
for (let s = 0; s < steps; s++) sgdStep(net, batch, grad, LENET.learningRate);
console.log(`${steps} steps, ${((performance.now() - t0) / steps).toFixed(2)} ms/step`);
