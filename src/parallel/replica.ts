/**
 * A worker thread's loop: it sleeps on its mailbox word, takes each command from its port, runs
 * its share of the pass (a job, jobs.ts) on its replica of the network and posts the share's
 * scalar (or what failed). Replicas are single-thread NetworkPasses built on first use from the
 * network's spec; they read its parameters in place. A failure abandons the pass for every
 * thread (collective.ts) and is reported, and the loop goes on.
 */
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { cpuBackend } from '../nd/backends/cpu/index.js';
import { chooseGemm } from '../nd/backends/cpu/gemm-select.js';
import type { FloatArray } from '../nd/dtype.js';
import { NetworkPasses } from '../layers/passes.js';
import type { LayerSpec } from '../layers/registry.js';
import type { LossName } from '../layers/loss.js';
import { Aborted, Word, abort, allReduce, type Reply } from './collective.js';
import { runJob, type Held, type Job } from './jobs.js';
import type { Drop } from './pool.js';
import type { ReplicaSpec } from './team.js';

/** A network's single-thread passes on this worker and the shares it keeps between jobs. */
export interface Replica {
  net: NetworkPasses;
  held: Map<number, Held>;
}

export interface Command {
  network: number;
  build?: { spec: ReplicaSpec; params: FloatArray };
  job: Job;
  x: FloatArray;
  y: Int32Array | FloatArray;
  n: number;
  out: FloatArray | null;
  rank: number;
  parties: number;
  area: Float64Array;
  stride: number;
  /** The main network's running statistics, for evaluation passes. */
  buffers?: Float64Array[];
  drops: Drop[];
}

export function serve(ctrl: Int32Array, rank: number, port: MessagePort): void {
  const replicas = new Map<number, Replica>();
  const box = Word.Mailbox + rank;
  for (let seen = 0; ; ) {
    while (Atomics.load(ctrl, box) === seen) Atomics.wait(ctrl, box, seen, 1000);
    seen = Atomics.load(ctrl, box);
    port.postMessage(answer(replicas, receiveMessageOnPort(port)?.message as Command, ctrl));
    Atomics.add(ctrl, Word.Done, 1);
    Atomics.notify(ctrl, Word.Done);
  }
}

/** One command on this worker's replicas (drops first), its scalar or what failed (the browser's workers too, src/parallel/web-pool.ts). */
export function answer(replicas: Map<number, Replica>, c: Command, ctrl: Int32Array): Reply {
  try {
    for (const d of c.drops) {
      if (d.curvature === undefined) {
        replicas.get(d.network)?.net.dispose();
        replicas.delete(d.network);
      } else replicas.get(d.network)?.held.delete(d.curvature);
    }
    return { value: run(replicas, c, ctrl) };
  } catch (e) {
    const aborted = e instanceof Aborted;
    if (!aborted) abort(ctrl);
    return { error: e instanceof Error ? e.message : String(e), aborted };
  }
}

function run(replicas: Map<number, Replica>, c: Command, ctrl: Int32Array): number {
  if (c.build) {
    const { spec, params } = c.build;
    const backend = cpuBackend(spec.dtype, chooseGemm(spec.gemm));
    const net = new NetworkPasses(backend, spec.inShape, spec.specs as LayerSpec[], { loss: spec.loss as LossName, seed: spec.seed }, params);
    replicas.set(c.network, { net, held: new Map() });
  }
  const replica = replicas.get(c.network);
  if (!replica) throw new Error(`no replica of network ${c.network} on this thread`);
  if (c.buffers) replica.net.namedBuffers().forEach((b, i) => b.data.set(c.buffers![i]));
  const reduce = allReduce(ctrl, c.area, c.stride, c.rank, c.parties);
  return runJob(replica.net, c.job, { x: c.x, y: c.y, n: c.n }, c.out, reduce, replica.held);
}
