/**
 * The worker pool in a browser: the CPU backend's threads as Web Workers over SharedArrayBuffer
 * (browser/build.ts bundles this module in place of pool.ts). The contract is pool.ts's: `run` is
 * synchronous, the caller posts each worker its command and sleeps on the Done word. Three
 * browser rules shape the rest:
 * - Atomics.wait is forbidden on a page's main thread, so the calling thread (rank 0) must itself
 *   be a worker: the demo trains on the CPU backend in a worker of its own (browser/trainer.ts).
 * - A worker cannot take a message synchronously (there is no receiveMessageOnPort), and one
 *   started by a thread that then blocks may never start; so the workers are started first,
 *   asynchronously (startThreads), each takes its commands in onmessage (it idles in its event
 *   loop between passes), and answers through shared memory: its reply slot, then the Done count.
 * - SharedArrayBuffer exists only on a cross-origin isolated page (COOP/COEP headers, serve.ts).
 */
import { Word, runBeside, settlePass, type Reply } from './collective.js';
import type { Drop } from './pool.js';

const CONTROL_WORDS = 64;
/** Bytes of a failure message a reply slot keeps (longer ones are cut). */
const MESSAGE_BYTES = 2048;
/** A reply slot: value (float64), status and message length (int32 each), the message's UTF-8. */
const SLOT_BYTES = 16 + MESSAGE_BYTES;

/** The replies of ranks 1 … n in shared memory, written by the workers and read by the caller. */
export class ReplySlots {
  private readonly view: DataView;
  private readonly bytes: Uint8Array;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.view = new DataView(buffer);
    this.bytes = new Uint8Array(buffer);
  }

  static make(ranks: number): ReplySlots {
    return new ReplySlots(new SharedArrayBuffer((ranks + 1) * SLOT_BYTES));
  }

  write(rank: number, r: Reply): void {
    const at = rank * SLOT_BYTES;
    if ('value' in r) {
      this.view.setFloat64(at, r.value);
      this.view.setInt32(at + 8, 0);
      return;
    }
    // TextEncoder writes into unshared memory only: encode, then copy.
    const text = new TextEncoder().encode(r.error).subarray(0, MESSAGE_BYTES);
    this.bytes.set(text, at + 16);
    this.view.setInt32(at + 12, text.length);
    this.view.setInt32(at + 8, r.aborted ? 2 : 1);
  }

  read(rank: number): Reply {
    const at = rank * SLOT_BYTES;
    const status = this.view.getInt32(at + 8);
    if (status === 0) return { value: this.view.getFloat64(at) };
    const text = this.bytes.slice(at + 16, at + 16 + this.view.getInt32(at + 12));
    return { error: new TextDecoder().decode(text), aborted: status === 2 };
  }
}

/** What a worker gets first: the control words, its reply slot and its rank. */
export interface ThreadInit {
  init: { ctrl: Int32Array; replies: SharedArrayBuffer; rank: number };
}

interface Member {
  worker: Worker;
  replicas: Set<number>;
  drops: Drop[];
}

export class Pool {
  readonly ctrl = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
  private readonly slots = ReplySlots.make(CONTROL_WORDS - Word.Mailbox);
  private readonly members: Member[] = [];

  /** Worker r (1-based rank), which startThreads must have started. */
  member(rank: number): Member {
    const m = this.members[rank - 1];
    if (!m) throw new Error(`threads: worker ${rank} is not running; in a browser, await startThreads(${rank}, url) before a pass on ${rank + 1} threads`);
    return m;
  }

  /** Starts workers from the script at `url` until there are `count`; resolves once each has said it is ready. */
  async start(count: number, url: URL | string): Promise<void> {
    if (count + Word.Mailbox >= CONTROL_WORDS) throw new RangeError(`threads: at most ${CONTROL_WORDS - Word.Mailbox - 1} workers are supported`);
    while (this.members.length < count) {
      const rank = this.members.length + 1;
      const worker = new Worker(url, { type: 'module', name: `ndcnn thread ${rank}` });
      await new Promise<void>((ready, fail) => {
        worker.onmessage = (e: MessageEvent) => (e.data === 'ready' ? ready() : fail(new Error(`thread ${rank} could not start: ${String(e.data?.error ?? e.data)}`)));
        worker.onerror = (e) => fail(new Error(`thread ${rank} could not start: ${e.message || 'its script failed to load'}`));
        worker.postMessage({ init: { ctrl: this.ctrl, replies: this.slots.buffer, rank } } satisfies ThreadInit);
      });
      worker.onmessage = null;
      this.members.push({ worker, replicas: new Set(), drops: [] });
    }
  }

  /** As pool.ts: commands to workers 1 … n, `local` here meanwhile, then every worker's reply. */
  run(messages: object[], local: () => void): Reply[] {
    const ctrl = this.ctrl;
    Atomics.store(ctrl, Word.Done, 0);
    messages.forEach((m, i) => {
      const member = this.member(i + 1);
      member.worker.postMessage({ ...m, drops: member.drops.splice(0) });
    });
    const failure = runBeside(ctrl, messages.length, local);
    return settlePass(ctrl, messages.map((_, i) => this.slots.read(i + 1)), failure);
  }

  drop(d: Drop): void {
    for (const m of this.members) if (m.replicas.has(d.network)) m.drops.push(d);
    if (d.curvature === undefined) for (const m of this.members) m.replicas.delete(d.network);
  }
}

let shared: Pool | null = null;

export function pool(): Pool {
  shared ??= new Pool();
  return shared;
}

/**
 * Starts the page's workers for networks of up to `threads` threads (threads − 1 workers, from
 * the worker script at `url`, browser/thread.ts's bundle). Call it, and train, in a worker.
 */
export function startThreads(threads: number, url: URL | string): Promise<void> {
  if (typeof SharedArrayBuffer !== 'function') {
    return Promise.reject(new Error('threads: this page has no SharedArrayBuffer (it must be cross-origin isolated: served with COOP/COEP headers)'));
  }
  return pool().start(threads - 1, url);
}

/**
 * A worker's side (browser/thread.ts): takes the init message, then each command, answered by
 * `answer` into the worker's reply slot before it counts itself done.
 */
export function serveThread(scope: { onmessage: ((e: MessageEvent) => void) | null; postMessage(m: unknown): void }, answer: (command: never, ctrl: Int32Array) => Reply): void {
  let ctrl: Int32Array;
  let slots: ReplySlots;
  let rank = 0;
  scope.onmessage = (e: MessageEvent) => {
    const init = (e.data as Partial<ThreadInit>).init;
    if (init) {
      [ctrl, slots, rank] = [init.ctrl, new ReplySlots(init.replies), init.rank];
      scope.postMessage('ready');
      return;
    }
    slots.write(rank, answer(e.data as never, ctrl));
    Atomics.add(ctrl, Word.Done, 1);
    Atomics.notify(ctrl, Word.Done);
  };
}
