/**
 * TF.js peers: the pure-JS `cpu` backend and `wasm` (XNNPACK, SIMD, threads where the host
 * allows). tfjs-node is left out: its install downloads a prebuilt libtensorflow, which this
 * workplace cannot reach.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
// The umbrella package registers the gradient functions that tfjs-core alone lacks (W4 trains).
import '@tensorflow/tfjs';
import * as wasm from '@tensorflow/tfjs-backend-wasm';
import { cpus } from 'node:os';

export { tf };

export const TFJS_BACKENDS = ['cpu', 'wasm'] as const;
export type TfjsBackend = (typeof TFJS_BACKENDS)[number];

/** Switches TF.js to `backend`; returns a note on how it runs (threads, SIMD), or throws why not. */
export async function useTfjs(backend: TfjsBackend): Promise<string> {
  if (backend === 'wasm') wasm.setThreadsCount(cpus().length);
  if (!(await tf.setBackend(backend))) throw new Error(`TF.js could not initialise its ${backend} backend`);
  await tf.ready();
  if (backend === 'wasm') {
    const threads = wasm.getThreadsCount();
    const simd = tf.env().getBool('WASM_HAS_SIMD_SUPPORT');
    const mt = tf.env().getBool('WASM_HAS_MULTITHREAD_SUPPORT');
    return `XNNPACK, simd ${simd}, multithread support ${mt}, ${threads} thread(s)`;
  }
  return 'pure JS';
}
