/**
 * Data parallelism for one network: every pass splits its batch into contiguous shares, thread r
 * (0 = the caller) takes share r on its replica of the network, and the shares' results are
 * combined in rank order, so a given thread count always gives the same bits. The replicas read
 * the network's parameters in place (SharedArrayBuffer) and batch norm sums its statistics over
 * the shares (collective.ts), so each pass computes what one thread would, up to the order of
 * float sums. Batches whose memory is not shared (e.g. a test set) are copied into a reused
 * shared buffer first; MiniBatches' buffers are shared, so training copies no batch.
 */
import type { Backend } from '../nd/backend.js';
import { CpuBackend } from '../nd/backends/cpu/index.js';
import { allocateShared, sharedMemory, type DType, type FloatArray } from '../nd/dtype.js';
import type { Batch } from '../nd/model.js';
import type { KroneckerSink } from '../layers/kronecker.js';
import type { FisherDraws, NetworkPasses, ProductKind, Reduce, ShardCurvature } from '../layers/passes.js';
import { runSync } from '../layers/reads.js';
import { allReduce } from './collective.js';
import { curvatureShare, factorArrays, kroneckerShare, maskRows, runJob, type Job, type ModeOf } from './jobs.js';
import { pool, type Pool } from './pool.js';

/** The curvature products of a split curvature batch, on vectors of the network's dtype. */
export type TeamCurvature = Record<ProductKind, (dir: FloatArray, out: FloatArray) => void>;

/** What a worker needs to build its replica of a network. */
export interface ReplicaSpec {
  dtype: DType;
  gemm: string;
  inShape: number[];
  specs: unknown[];
  loss: string;
  seed: number;
}

function isShared(a: { buffer: ArrayBufferLike }): boolean {
  return typeof SharedArrayBuffer === 'function' && a.buffer instanceof SharedArrayBuffer;
}

let networks = 0;

/** Replicas whose network was collected without dispose(), and curvature products whose owner was: the workers drop theirs with their next command. */
const released = new FinalizationRegistry<{ network: number; curvature?: number }>((d) => pool().drop(d));

interface Share {
  batch: Batch;
  start: number;
  weight: number;
}

export class NetworkTeam {
  private readonly id = ++networks;
  private readonly pool: Pool;
  private readonly spec: ReplicaSpec;
  /** Each worker's vector result (gradient, Gv, Hv), summed into the caller's in rank order. */
  private readonly slots: FloatArray[];
  private readonly dir: FloatArray;
  private readonly area: Float64Array;
  private readonly stride: number;
  private staging = { x: allocateShared('float32', 0), y: new Float64Array(0) as Int32Array | FloatArray };
  private rowsOut: FloatArray;
  /** Forward passes so far: a curvature product redoes its own when one ran since its last. */
  private passes = 0;
  /** The last id given to what the workers keep between jobs (curvature shares, K-FAC factors). */
  private kept = 0;

  constructor(
    private readonly net: NetworkPasses,
    private readonly threads: number,
  ) {
    this.pool = pool();
    const dtype = net.backend.dtype;
    if (!(net.backend instanceof CpuBackend)) throw new Error(`threads need the CPU backend, not ${net.backend.name}`);
    this.spec = {
      dtype,
      gemm: net.backend.kernels.info.impl,
      inShape: [...net.inShape],
      specs: JSON.parse(JSON.stringify(net.specs)),
      loss: net.lossName,
      seed: net.seed,
    };
    this.slots = Array.from({ length: threads - 1 }, () => allocateShared(dtype, net.paramCount));
    this.dir = allocateShared(dtype, net.paramCount);
    this.rowsOut = allocateShared(dtype, 0);
    // Batch norm reduces at most five per-channel vectors at once; a channel count is the first
    // axis of some parameter tensor (its γ), nested layers included.
    const widest = Math.max(1, ...net.layers.flatMap((l) => l.paramShapes.map((s) => s[0] ?? 1)));
    this.stride = 5 * widest + 1;
    this.area = new Float64Array(sharedMemory(threads * this.stride * 8));
    released.register(net, { network: this.id }, this);
  }

  /** A pass whose shares' vector results (when `out` is given) and losses are summed. */
  vector(job: Job, b: Batch, out: FloatArray | null): number {
    this.passes++;
    const shares = this.split(b);
    let total = 0;
    for (const v of this.run(job, shares, (s, r) => (r === 0 ? out : out && this.slots[r - 1]))) total += v;
    if (out) for (let r = 1; r < shares.length; r++) addInto(out, this.slots[r - 1]);
    return total;
  }

  /** A pass whose shares write their rows of outputs [n, k]. */
  rows(job: Job, b: Batch, out: FloatArray): void {
    this.passes++;
    const k = out.length / b.n;
    if (this.rowsOut.length < out.length) this.rowsOut = allocateShared(this.net.backend.dtype, out.length);
    const shares = this.split(b);
    const rowsOf = (s: Share, r: number) => (r === 0 ? out : this.rowsOut).subarray(s.start * k, (s.start + s.batch.n) * k);
    this.run(job, shares, rowsOf);
    for (const s of shares.slice(1)) out.set(rowsOf(s, 1), s.start * k);
  }

  /**
   * A pass whose output is `head` values summed over the shares, then one row of `width` values
   * per sample (per-sample quantities: their sums, and each sample's own), packed in `out`.
   */
  packed(job: Job, b: Batch, head: number, width: number, out: FloatArray): number {
    this.passes++;
    const shares = this.split(b);
    const dtype = this.net.backend.dtype;
    const scratch = shares.slice(1).map((s) => allocateShared(dtype, head + s.batch.n * width));
    let total = 0;
    for (const v of this.run(job, shares, (s, r) => (r === 0 ? out.subarray(0, head + s.batch.n * width) : scratch[r - 1]))) total += v;
    shares.slice(1).forEach((s, i) => {
      addInto(out.subarray(0, head), scratch[i].subarray(0, head));
      out.set(scratch[i].subarray(head), head + s.start * width);
    });
    return total;
  }

  curvature(b: Batch, step: number, mode: ModeOf = {}, fisher?: FisherDraws): TeamCurvature {
    const id = ++this.kept;
    const at = sharedCopy(this.net.params);
    // Its own copy of the batch: the products may redo the forward pass after the batch's buffer was reused.
    const shares = this.split(b, true);
    this.passes++;
    // This thread's share lives in the products' closure (the workers keep theirs by id).
    let mine!: ShardCurvature;
    this.run({ kind: 'curvature', id, step, at, weight: 1, fisher, ...mode }, shares, () => null, (job, share, _, reduce) => {
      mine = runSync(this.net.backend, curvatureShare(this.net, job as Extract<Job, { kind: 'curvature' }>, share, reduce));
      return 0;
    });
    let prepared = this.passes;
    const product = (kind: ProductKind) => (dir: FloatArray, buf: FloatArray) => {
      const fresh = prepared !== this.passes;
      if (fresh) prepared = ++this.passes;
      this.dir.set(dir);
      this.run({ kind, id, dir: this.dir, fresh }, shares, (s, r) => (r === 0 ? buf : this.slots[r - 1]), () => {
        mine[kind](dir, buf, fresh);
        return 0;
      });
      for (let r = 1; r < shares.length; r++) addInto(buf, this.slots[r - 1]);
    };
    const c: TeamCurvature = { gv: product('gv'), hv: product('hv'), fv: product('fv'), ev: product('ev') };
    released.register(c, { network: this.id, curvature: id });
    return c;
  }

  /**
   * A K-FAC factor pass (its job's id is set here): the shares' raw factor sums added into this
   * thread's share's sink in rank order, their gradients into `grad` when given, their losses summed.
   * The workers keep their factors until this thread, which learns the factors' size from its own
   * share, collects them into shared memory with a second job ('factors').
   */
  kronecker(job: Extract<Job, { kind: 'kronecker' }>, b: Batch, grad: FloatArray | null): { loss: number; sink: KroneckerSink } {
    this.passes++;
    const id = ++this.kept;
    const shares = this.split(b);
    let sink!: KroneckerSink;
    let loss = 0;
    try {
      const losses = this.run({ ...job, id }, shares, (_, r) => (r === 0 ? grad : grad && this.slots[r - 1]), (j, share, out, reduce) => {
        const mine = runSync(this.net.backend, kroneckerShare(this.net, j as typeof job, share, out, reduce));
        sink = mine.sink;
        return mine.loss;
      });
      for (const v of losses) loss += v;
    } catch (e) {
      this.pool.drop({ network: this.id, curvature: id });
      throw e;
    }
    if (grad) for (let r = 1; r < shares.length; r++) addInto(grad, this.slots[r - 1]);
    const arrays = factorArrays(sink);
    const size = arrays.reduce((n, a) => n + a.length, 0);
    const theirs = new Float64Array(sharedMemory(Math.max(0, shares.length - 1) * size * 8));
    const part = (r: number) => theirs.subarray((r - 1) * size, r * size);
    this.run({ kind: 'factors', id }, shares, (_, r) => (r === 0 ? null : part(r)), () => 0);
    for (let r = 1; r < shares.length; r++) {
      let at = 0;
      for (const a of arrays) {
        addInto(a, part(r).subarray(at, at + a.length));
        at += a.length;
      }
    }
    return { loss, sink };
  }

  dispose(): void {
    released.unregister(this);
    this.pool.drop({ network: this.id });
  }

  /**
   * Runs `job` on every share: share 0 here (by `local`, the network's own passes by default),
   * share r on worker r. `outOf` gives each share's output. Returns the shares' scalars in rank order.
   */
  private run(
    job: Job,
    shares: Share[],
    outOf: (s: Share, r: number) => FloatArray | null,
    local = (j: Job, b: Batch, out: FloatArray | null, reduce: Reduce | null) => runJob(this.net, j, b, out, reduce),
  ): number[] {
    const parties = shares.length;
    const n = shares.reduce((a, s) => a + s.batch.n, 0);
    // Each share's weight, and the rows of given dropout masks that belong to its samples.
    const withWeight = (s: Share): Job => {
      if (!('weight' in job)) return job;
      return 'masks' in job && job.masks ? { ...job, weight: s.weight, masks: maskRows(job.masks, n, s.start, s.batch.n) } : { ...job, weight: s.weight };
    };
    // Evaluation passes read the running statistics, which only the caller's network updates.
    const evaluating = job.kind === 'evalLoss' || job.kind === 'evalOutputs' || ('evaluation' in job && job.evaluation === true);
    const buffers = evaluating ? this.net.namedBuffers().map((b) => b.data) : undefined;
    const messages = shares.slice(1).map((s, i) => {
      const rank = i + 1;
      const member = this.pool.member(rank);
      const build = member.replicas.has(this.id) ? undefined : { spec: this.spec, params: this.net.params };
      member.replicas.add(this.id);
      return { network: this.id, build, job: withWeight(s), x: s.batch.x, y: s.batch.y, n: s.batch.n, out: outOf(s, rank), rank, parties, area: this.area, stride: this.stride, buffers };
    });
    const reduce: Reduce | null = parties > 1 ? allReduce(this.pool.ctrl, this.area, this.stride, 0, parties) : null;
    let mine = 0;
    const replies = this.pool.run(messages, () => {
      mine = local(withWeight(shares[0]), shares[0].batch, outOf(shares[0], 0), reduce);
    });
    return [mine, ...replies.map((r) => ('value' in r ? r.value : 0))];
  }

  /** The batch's shares (at most one a thread, none empty), in memory the workers can read. */
  private split(b: Batch, own = false): Share[] {
    const parties = Math.min(this.threads, b.n);
    const { x, y } = own ? { x: isShared(b.x) ? b.x : sharedCopy(b.x), y: isShared(b.y) ? b.y : sharedCopy(b.y) } : this.shared(b);
    const size = x.length / b.n;
    const per = y.length / b.n;
    return Array.from({ length: parties }, (_, r) => {
      const [start, end] = [Math.floor((r * b.n) / parties), Math.floor(((r + 1) * b.n) / parties)];
      return {
        start,
        weight: (end - start) / b.n,
        batch: { x: x.subarray(start * size, end * size), y: y.subarray(start * per, end * per), n: end - start },
      };
    });
  }

  /** The batch itself when its memory is shared, else a copy in the reused staging buffers. */
  private shared(b: Batch): { x: FloatArray; y: Int32Array | FloatArray } {
    const x = isShared(b.x) ? b.x : (stage(this.staging, 'x', b.x) as FloatArray);
    const y = isShared(b.y) ? b.y : stage(this.staging, 'y', b.y);
    return { x, y };
  }
}

/** `from` copied into `into[key]`, which is replaced by a larger one (of from's type) when it does not fit. */
function stage<K extends 'x' | 'y'>(into: Record<K, FloatArray | Int32Array>, key: K, from: FloatArray | Int32Array): FloatArray | Int32Array {
  if (into[key].length < from.length || into[key].constructor !== from.constructor) into[key] = sharedCopy(from);
  const view = into[key].subarray(0, from.length);
  view.set(from);
  return view;
}

/** A copy of `a` in shared memory. */
function sharedCopy<T extends FloatArray | Int32Array>(a: T): T {
  const Type = a.constructor as { new (b: ArrayBuffer): T; BYTES_PER_ELEMENT: number };
  const copy = new Type(sharedMemory(a.length * Type.BYTES_PER_ELEMENT));
  copy.set(a);
  return copy;
}

function addInto(out: FloatArray, part: FloatArray): void {
  for (let j = 0; j < out.length; j++) out[j] += part[j];
}
