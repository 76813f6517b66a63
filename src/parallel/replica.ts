/**
 * A worker thread's loop: it sleeps on its mailbox word, takes each command from its port, runs
 * its share of the pass on its replica of the network and posts the share's scalar (or what
 * failed). Replicas are built on first use from the network's spec and read its parameters in
 * place; a failure abandons the pass for every thread (collective.ts) and is reported, and the
 * loop goes on.
 */
import { receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { cpuBackend } from '../nd/backends/cpu/index.js';
import { chooseGemm } from '../nd/backends/cpu/gemm-select.js';
import type { FloatArray } from '../nd/dtype.js';
import { Network } from '../layers/network.js';
import type { LayerSpec } from '../layers/registry.js';
import type { LossName } from '../layers/loss.js';
import { Aborted, Word, abort, allReduce, type Reply } from './collective.js';
import type { Drop } from './pool.js';
import type { Job, ReplicaSpec } from './team.js';

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
  const replicas = new Map<number, Network>();
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
export function answer(replicas: Map<number, Network>, c: Command, ctrl: Int32Array): Reply {
  try {
    for (const d of c.drops) {
      if (d.curvature === undefined) {
        replicas.get(d.network)?.dispose();
        replicas.delete(d.network);
      } else replicas.get(d.network)?.shard({ kind: 'drop', id: d.curvature }, { x: c.x, y: c.y, n: 0 }, null, null);
    }
    return { value: run(replicas, c, ctrl) };
  } catch (e) {
    const aborted = e instanceof Aborted;
    if (!aborted) abort(ctrl);
    return { error: e instanceof Error ? e.message : String(e), aborted };
  }
}

function run(replicas: Map<number, Network>, c: Command, ctrl: Int32Array): number {
  if (c.build) {
    const { spec, params } = c.build;
    const backend = cpuBackend(spec.dtype, chooseGemm(spec.gemm));
    const options = { loss: spec.loss as LossName, seed: spec.seed, checkInputs: false, threads: 1 };
    replicas.set(c.network, new Network(backend, spec.inShape, spec.specs as LayerSpec[], options, params));
  }
  const net = replicas.get(c.network);
  if (!net) throw new Error(`no replica of network ${c.network} on this thread`);
  if (c.buffers) net.namedBuffers().forEach((b, i) => b.data.set(c.buffers![i]));
  const reduce = allReduce(ctrl, c.area, c.stride, c.rank, c.parties);
  return net.shard(c.job, { x: c.x, y: c.y, n: c.n }, c.out, reduce);
}
