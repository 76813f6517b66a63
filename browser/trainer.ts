/**
 * The demo's CPU runs, in a worker of their own: the CPU backend's threads sleep on Atomics.wait,
 * which a page's main thread may not do, so the thread that trains (rank 0) is this worker, and
 * its helpers (ranks 1 …) are workers it starts (thread.ts, src/parallel/web-pool.ts). The page
 * stays free to draw. It posts what it does (TrainerEvent); the page posts `start` once and
 * `stop` to end the run early.
 */
import './wasm.js';
import { Network } from '../src/network/index.js';
import { cpuBackend } from '../src/nd/backends/cpu/index.js';
import { chooseGemm } from '../src/nd/backends/cpu/gemm-select.js';
import { startThreads } from '../src/parallel/web-pool.js';
import type { Digits } from './digits-format.js';
import { SPECS, trainDigits } from './session.js';

export interface TrainerStart {
  start: {
    /** Threads of the CPU backend (more than 1 needs a cross-origin isolated page). */
    threads: number;
    /** The GEMM to start from (wasm, js). */
    gemm: string;
    maxSteps: number;
    evalEvery: number;
    train: Digits;
    test: Digits;
    /** Where thread.ts's bundle is. */
    threadUrl: string;
  };
}

export type TrainerEvent =
  | { kind: 'started'; runs: string; threads: number; note: string | null; summary: string }
  | { kind: 'step'; step: number; loss: number; msPerStep: number }
  | { kind: 'accuracy'; step: number; accuracy: number }
  | { kind: 'done'; steps: number; stopped: boolean }
  | { kind: 'error'; message: string };

const post = (e: TrainerEvent) => (self as unknown as Worker).postMessage(e);
const stop = new AbortController();

self.onmessage = (e: MessageEvent<TrainerStart | { stop: true }>) => {
  if ('stop' in e.data) stop.abort();
  else void run(e.data.start);
};

async function run(o: TrainerStart['start']): Promise<void> {
  let net: Network | undefined;
  try {
    const isolated = (self as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
    const threads = isolated ? o.threads : 1;
    const note = threads < o.threads ? `one thread: this page is not cross-origin isolated (no COOP/COEP headers), so it has no SharedArrayBuffer for ${o.threads}` : null;
    if (threads > 1) await startThreads(threads, o.threadUrl);
    net = new Network(cpuBackend('float32', chooseGemm(o.gemm)), [1, 28, 28], SPECS, { seed: 1, threads });
    post({ kind: 'started', runs: `${net.backend.describe()}, ${threads} thread${threads > 1 ? 's (Web Workers)' : ''}`, threads, note, summary: net.summary() });
    const { steps, stopped } = await trainDigits(net, { train: o.train, test: o.test }, { maxSteps: o.maxSteps, evalEvery: o.evalEvery, signal: stop.signal }, {
      step: (step, loss, msPerStep) => post({ kind: 'step', step, loss, msPerStep }),
      accuracy: (step, accuracy) => post({ kind: 'accuracy', step, accuracy }),
    });
    post({ kind: 'done', steps, stopped });
  } catch (e) {
    post({ kind: 'error', message: e instanceof Error ? `${e.name}: ${e.message}` : String(e) });
  } finally {
    net?.dispose();
  }
}
