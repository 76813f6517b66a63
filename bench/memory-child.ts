/**
 * Child process of the memory bench: `steps` W4 SGD steps (default 200) on `threads` threads
 * (default 1), then one JSON line with this process's peak resident set (getrusage's ru_maxrss,
 * which Node reports in KiB; worker threads are part of the process).
 */
import { lenet, randomBatch, sgdStep } from './nets.js';
import { LENET } from './workloads.js';

const steps = Number(process.argv[2] ?? 200);
const threads = Number(process.argv[3] ?? 1);
const net = lenet(threads);
const batch = randomBatch(net, LENET.batch, LENET.classes, 1);
const grad = new Float32Array(net.paramCount);
const t0 = performance.now();
let first = NaN;
let last = NaN;
for (let s = 0; s < steps; s++) {
  last = sgdStep(net, batch, grad, LENET.learningRate);
  if (s === 0) first = last;
}
const ms = performance.now() - t0;
process.stdout.write(JSON.stringify({ steps, threads, ms, firstLoss: first, lastLoss: last, peakRssMB: process.resourceUsage().maxRSS / 1024 }) + '\n');
