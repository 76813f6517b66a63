/**
 * The process's worker threads, shared by every network that asks for threads (a network of n
 * threads uses workers 1 … n−1; the calling thread is rank 0). Commands are synchronous, because
 * the optimizers' Model interface is: the caller posts a message on each participant's port,
 * bumps its mailbox word and sleeps on the Done word; a worker wakes, takes the message with
 * receiveMessageOnPort, runs it, posts its result and counts itself done. Memory the pass shares
 * (parameters, batches, outputs) is SharedArrayBuffer-backed, so messages carry no data.
 *
 * Workers are unref'd: a program that never disposes its networks still exits.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MessageChannel, Worker, receiveMessageOnPort, type MessagePort } from 'node:worker_threads';
import { Word, runBeside, settlePass, type Reply } from './collective.js';

interface Member {
  worker: Worker;
  port: MessagePort;
  /** Networks (by id) this worker holds a replica of. */
  replicas: Set<number>;
  /** Replicas and curvature products whose owners are gone, dropped with the next command. */
  drops: Drop[];
}

export interface Drop {
  network: number;
  curvature?: number;
}

/** How long a new worker may take to load its modules (the first one under tsx transpiles them). */
const START_MS = 120_000;
const CONTROL_WORDS = 64;

/**
 * A worker's first code: it imports the replica module (the .ts source under tsx or vitest, whose
 * loader hooks do not reach worker threads, so tsx's API registers them there) and reports
 * through its port and the Ready word whether that worked, so a worker that cannot load says why.
 */
const ENTRY = `
const { workerData } = require('node:worker_threads');
const { ctrl, rank, port, module, tsx } = workerData;
const started = (reply) => { port.postMessage(reply); Atomics.add(ctrl, ${Word.Ready}, 1); Atomics.notify(ctrl, ${Word.Ready}); };
(async () => { if (tsx) (await import(tsx)).register(); return import(module); })().then(
  (m) => { started({ value: 0 }); m.serve(ctrl, rank, port); },
  (e) => started({ error: e && e.message ? e.message : String(e) }));
`;

/** The replica module's URL, and tsx's ESM API's when it is TypeScript source. */
function replicaModule(): { module: string; tsx?: string } {
  const here = import.meta.url;
  if (!here.endsWith('.ts')) return { module: new URL('./replica.js', here).href };
  const pkg = createRequire(here).resolve('tsx/package.json');
  const api = (JSON.parse(readFileSync(pkg, 'utf8')) as { exports: Record<string, { import: { default: string } }> }).exports['./esm/api'];
  return { module: new URL('./replica.ts', here).href, tsx: pathToFileURL(join(dirname(pkg), api.import.default)).href };
}

export class Pool {
  readonly ctrl = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
  private readonly members: Member[] = [];

  /** Worker r (1-based rank) of the pool, started if need be (every rank below it too). */
  member(rank: number): Member {
    if (Word.Mailbox + rank >= CONTROL_WORDS) throw new RangeError(`threads: at most ${CONTROL_WORDS - Word.Mailbox} are supported`);
    while (this.members.length < rank) this.start();
    return this.members[rank - 1];
  }

  /**
   * Sends `messages[r − 1]` to worker r (1 ≤ r ≤ messages.length), runs `local` on this thread
   * meanwhile, waits for every worker and returns their replies. If `local` throws, the workers
   * are told to abandon the pass (see collective.ts) and its error is rethrown once they stop.
   */
  run(messages: object[], local: () => void): Reply[] {
    const ctrl = this.ctrl;
    Atomics.store(ctrl, Word.Done, 0);
    messages.forEach((m, i) => {
      const member = this.member(i + 1);
      member.port.postMessage({ ...m, drops: member.drops.splice(0) });
      Atomics.add(ctrl, Word.Mailbox + i + 1, 1);
      Atomics.notify(ctrl, Word.Mailbox + i + 1);
    });
    const failure = runBeside(ctrl, messages.length, local);
    return settlePass(ctrl, messages.map((_, i) => receiveMessageOnPort(this.members[i].port)?.message as Reply), failure);
  }

  /** Queues a drop for every worker that holds the network's replica. */
  drop(d: Drop): void {
    for (const m of this.members) if (m.replicas.has(d.network)) m.drops.push(d);
    if (d.curvature === undefined) for (const m of this.members) m.replicas.delete(d.network);
  }

  private start(): void {
    const rank = this.members.length + 1;
    const { port1, port2 } = new MessageChannel();
    const ready = Atomics.load(this.ctrl, Word.Ready);
    const worker = new Worker(ENTRY, { eval: true, workerData: { ctrl: this.ctrl, rank, port: port2, ...replicaModule() }, transferList: [port2] });
    worker.unref();
    port1.unref();
    const deadline = Date.now() + START_MS;
    while (Atomics.load(this.ctrl, Word.Ready) === ready) {
      if (Date.now() > deadline) {
        void worker.terminate();
        throw new Error(`thread ${rank} did not start within ${START_MS / 1000} s`);
      }
      Atomics.wait(this.ctrl, Word.Ready, ready, 50);
    }
    const hello = receiveMessageOnPort(port1)?.message as Reply | undefined;
    if (!hello || 'error' in hello) {
      void worker.terminate();
      throw new Error(`thread ${rank} could not start: ${hello ? hello.error : 'no reply'}`);
    }
    this.members.push({ worker, port: port1, replicas: new Set(), drops: [] });
  }
}

let shared: Pool | null = null;

/** The process's pool, made on first use. */
export function pool(): Pool {
  shared ??= new Pool();
  return shared;
}
