/**
 * A CPU-backend thread of the page (rank ≥ 1): a Web Worker started by startThreads
 * (src/parallel/web-pool.ts) that runs its share of each pass on its replica of the network, the
 * same code as a Node worker thread (src/parallel/replica.ts), with the wasm kernels bundled.
 */
import './wasm.js';
import type { Replica } from '../src/parallel/replica.js';
import { answer, type Command } from '../src/parallel/replica.js';
import { serveThread } from '../src/parallel/web-pool.js';

const replicas = new Map<number, Replica>();
serveThread(self as unknown as Parameters<typeof serveThread>[0], (c: Command, ctrl: Int32Array) => answer(replicas, c, ctrl));
