/** W1–W3: forward, and backward (input and filter gradients), per engine, in float32. */
import { naiveEngine, ndcnnEngine, tfjsEngine, type ConvEngine } from './conv-engines.js';
import { measureOrProbe, type Timing } from './measure.js';
import { TFJS_BACKENDS, tf, useTfjs } from './tfjs.js';
import { CONV_WORKLOADS, convFlops } from './workloads.js';

export interface ConvResult {
  workload: string;
  engine: string;
  pass: 'forward' | 'backward';
  /** Absent when the engine cannot run the pass; `note` says why. */
  timing?: Timing;
  gflops?: number;
  note?: string;
}

function runEngine(e: ConvEngine, out: ConvResult[], log: (s: string) => void, note?: string): void {
  for (const w of CONV_WORKLOADS) {
    const r = e.prepare(w);
    if (typeof r === 'string') {
      for (const pass of ['forward', 'backward'] as const) out.push({ workload: w.id, engine: e.name, pass, note: r });
      log(`${w.id} ${e.name}: ${r}`);
      continue;
    }
    // One pass's flops; backward is two passes (data and filter).
    const flops = convFlops(w);
    for (const [pass, fn, f] of [['forward', r.forward, flops], ['backward', r.backward, 2 * flops]] as const) {
      try {
        const timing = measureOrProbe(`${w.id} ${e.name} ${pass}`, fn);
        const gflops = f / timing.ms / 1e6;
        out.push({ workload: w.id, engine: e.name, pass, timing, gflops, note });
        log(`${w.id} ${e.name} ${pass}: ${timing.ms.toFixed(2)} ms, ${gflops.toFixed(2)} GFLOP/s`);
      } catch (err) {
        out.push({ workload: w.id, engine: e.name, pass, note: (err as Error).message });
        log(`${w.id} ${e.name} ${pass}: ${(err as Error).message}`);
      }
    }
    r.dispose();
  }
}

export async function convSuite(log: (s: string) => void, peers: boolean): Promise<ConvResult[]> {
  const out: ConvResult[] = [];
  runEngine(ndcnnEngine, out, log);
  if (!peers) return out;
  runEngine(naiveEngine, out, log);
  for (const b of TFJS_BACKENDS) {
    let how: string;
    try {
      how = await useTfjs(b);
    } catch (err) {
      log(`tfjs-${b}: ${(err as Error).message}`);
      continue;
    }
    runEngine(tfjsEngine(tf, b), out, log, how);
  }
  return out;
}
