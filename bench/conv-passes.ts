/** Per-pass times (forward, backward data, backward filter) of W1–W3 on the default CPU backend, medians. */
import { cpuBackend } from '../src/nd/backends/cpu/index.js';
import { ConvGeometry } from '../src/nd/geometry.js';
import { CONV_WORKLOADS } from './workloads.js';

const b = cpuBackend('float32');
const median = (a: number[]) => [...a].sort((p, q) => p - q)[a.length >> 1];
for (const w of CONV_WORKLOADS.filter((w) => !process.argv[2] || process.argv[2].split(',').includes(w.id))) {
  const g = new ConvGeometry(w.id, [w.cin, ...w.size], { channels: w.cout, kernel: w.kernel });
  const fill = (s: number[]) => b.upload(s, Float32Array.from({ length: s.reduce((p, v) => p * v, 1) }, (_, i) => Math.sin(i)));
  const [x, y, wt, dx, dw] = [fill(g.inShape(w.n)), fill(g.outShape(w.n)), fill(g.weightShape()), fill(g.inShape(w.n)), fill(g.weightShape())];
  const passes: Record<string, () => void> = {
    forward: () => b.conv(y, x, wt, g, false),
    'back data': () => b.convBackData(dx, y, wt, g, false),
    'back filter': () => b.convBackFilter(dw, x, y, g, false),
  };
  const t: Record<string, number[]> = {};
  for (let r = 0; r < 7; r++) {
    for (const [k, f] of Object.entries(passes)) {
      const t0 = performance.now();
      f();
      (t[k] ??= []).push(performance.now() - t0);
    }
  }
  console.log(`${w.id}: ${Object.entries(t).map(([k, v]) => `${k} ${median(v).toFixed(2)} ms`).join(', ')}`);
}
