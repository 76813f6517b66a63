/**
 * GEMM alone, on the shapes W1–W3's forward passes hand it per sample (M = Cout, N = Πoutput,
 * K = Cin·Πkernel), for each implementation; and the cost of the copies the wasm path makes
 * (A and B in, C in and out), timed on their own, to say whether copying into wasm memory pays.
 */
import type { GemmFn } from '../src/nd/backends/cpu/gemm.js';
import { loadGemm, type GemmImpl } from '../src/nd/backends/cpu/gemm-select.js';
import { Rng } from '../src/nd/rng.js';
import { measure, type Timing } from './measure.js';
import { CONV_WORKLOADS, outSize } from './workloads.js';

export interface GemmResult {
  shape: string;
  impl: GemmImpl | 'wasm copies only';
  timing?: Timing;
  gflops?: number;
  note?: string;
}

const prod = (a: number[]): number => a.reduce((p, v) => p * v, 1);

function random(n: number, rng: Rng): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return a;
}

export function gemmSuite(log: (s: string) => void): GemmResult[] {
  const out: GemmResult[] = [];
  const rng = new Rng(9);
  for (const w of CONV_WORKLOADS) {
    const [M, N, K] = [w.cout, prod(outSize(w)), w.cin * prod(w.kernel)];
    const shape = `${w.id} ${M}×${N}×${K}`;
    const A = random(M * K, rng);
    const B = random(K * N, rng);
    const C = new Float32Array(M * N);
    for (const impl of ['openblas', 'wasm-simd', 'js'] as const) {
      let gemm: GemmFn;
      try {
        gemm = loadGemm(impl);
      } catch (err) {
        out.push({ shape, impl, note: (err as Error).message.split('\n')[0] });
        continue;
      }
      const timing = measure(`${shape} ${impl}`, () => gemm(false, false, M, N, K, 1, A, 0, K, B, 0, N, 0, C, 0, N), { maxTime: 1 });
      const gflops = (2 * M * N * K) / timing.ms / 1e6;
      out.push({ shape, impl, timing, gflops });
      log(`gemm ${shape} ${impl}: ${timing.ms.toFixed(3)} ms, ${gflops.toFixed(1)} GFLOP/s`);
    }
    // The wasm wrapper's copies: A and B in, C out (beta = 0 with no row gaps skips C in).
    const heap = new Float32Array(A.length + B.length + C.length);
    const copies = measure(`${shape} copies`, () => {
      heap.set(A, 0);
      heap.set(B, A.length);
      C.set(heap.subarray(A.length + B.length));
    }, { maxTime: 1 });
    out.push({ shape, impl: 'wasm copies only', timing: copies });
    log(`gemm ${shape} wasm copies alone: ${copies.ms.toFixed(3)} ms`);
  }
  return out;
}
