/**
 * A job: one single-thread pass of NetworkPasses, described by plain data so that it can be
 * posted to a worker. Every thread of a split pass runs the same job on its share of the batch
 * (runJob), the caller on share 0 (or on the whole batch when it has no threads). jobReads is
 * the job with its read points (src/layers/reads.ts), for a backend that reads back
 * asynchronously (WebGPU, one thread); runJob runs it synchronously.
 *
 * A new kind of pass: write it as a NetworkPasses generator method on a batch
 * (src/layers/passes.ts, `*fooOn(b, mode, ...): Reads<T>`), add its job here (a kind, the plain
 * data it needs, a case in jobReads), and give Network a public method that runs the job through
 * `vector` (results summed over shares, e.g. a gradient) or `rows` (one row a sample, e.g.
 * outputs) — src/network/network.ts. The worker side (replica.ts) needs nothing new.
 */
import type { FloatArray } from '../nd/dtype.js';
import type { Batch, FactorOptions } from '../nd/model.js';
import type { PassMode } from '../layers/layer.js';
import { KroneckerSink } from '../layers/kronecker.js';
import { EVAL, type FisherDraws, type NetworkPasses, type ProductKind, type Reduce, type SamplePlan, type ShardCurvature } from '../layers/passes.js';
import { runSync, type Reads } from '../layers/reads.js';

/**
 * `step` is the randomness step (dropout's masks); `weight` the share's fraction of the batch,
 * by which its mean loss counts (the split sets it; 1 on a whole batch).
 */
export type Job =
  | ({ kind: 'gradient'; step: number; weight: number; updateStats: boolean } & ModeOf)
  | ({ kind: 'loss' | 'outputs'; step: number; weight: number } & ModeOf)
  | { kind: 'evalLoss' | 'evalOutputs' | 'squaredGradients' | 'statistics'; step: number; weight: number }
  | ({ kind: 'curvature'; id: number; step: number; weight: number; at: FloatArray; fisher?: FisherDraws } & ModeOf)
  | ({ kind: 'samples'; step: number; weight: number; plan: SamplePlan } & ModeOf)
  | ({ kind: 'diagonal'; step: number; weight: number; estimate: 'exact' | 'mc'; samples: number; seed: number; hessian: boolean } & ModeOf)
  | ({ kind: 'kronecker'; id: number; step: number; weight: number; updateStats: boolean; options: FactorOptions } & ModeOf)
  | { kind: 'factors'; id: number }
  | { kind: ProductKind; id: number; dir: FloatArray; fresh: boolean }
  | { kind: 'drop'; id: number };

/**
 * The mode of a pass that may run in either (curvature in evaluation mode is how trained networks
 * are studied), and dropout keep-masks given for its batch by layer name: the split gives each
 * share the rows of its samples (maskRows).
 */
export interface ModeOf {
  evaluation?: boolean;
  masks?: Record<string, FloatArray>;
}

/** The PassMode of a job on `b`: evaluation, or training with this step's keys (and given masks). */
function modeOf(net: NetworkPasses, job: ModeOf & { step: number }, b: Batch, updateStats: boolean, reduce: Reduce | null): PassMode {
  if (job.evaluation) return EVAL;
  const mode = net.training(b, job.step, updateStats, reduce);
  return job.masks ? { ...mode, masks: new Map(Object.entries(job.masks)) } : mode;
}

/** The rows of samples [start, start + n) of every mask (each [N, ...shape] row-major over N samples). */
export function maskRows(masks: Record<string, FloatArray>, total: number, start: number, n: number): Record<string, FloatArray> {
  return Object.fromEntries(Object.entries(masks).map(([name, m]) => {
    const per = m.length / total;
    return [name, m.subarray(start * per, (start + n) * per)];
  }));
}

/**
 * What a worker keeps between the jobs of one pass: a curvature share between its products, or a
 * K-FAC share's factors until the caller, which learns their size from its own share, collects
 * them ('factors').
 */
export type Held = ShardCurvature | KroneckerSink;

/**
 * Runs `job` on `b` (a share, or the whole batch) with `net`; vector or row results go to `out`.
 * `reduce` sums batch statistics over the shares (null: the batch is all here); `held` keeps a
 * worker's shares between jobs (Held). Returns the share's weighted loss (0 for passes without one).
 */
export function runJob(net: NetworkPasses, job: Job, b: Batch, out: FloatArray | null, reduce: Reduce | null, held?: Map<number, Held>): number {
  return runSync(net.backend, jobReads(net, job, b, out, reduce, held));
}

/** runJob with its read points. */
export function* jobReads(net: NetworkPasses, job: Job, b: Batch, out: FloatArray | null, reduce: Reduce | null, held?: Map<number, Held>): Reads<number> {
  const need = (): FloatArray => {
    if (!out) throw new Error(`network: '${job.kind}' needs an output`);
    return out;
  };
  const kept = (): Map<number, Held> => {
    if (!held) throw new Error(`network: '${job.kind}' runs on a worker`);
    return held;
  };
  switch (job.kind) {
    case 'gradient':
      return yield* net.gradientOn(b, need(), modeOf(net, job, b, job.updateStats, reduce), job.weight);
    case 'samples':
      return yield* net.samplesOn(b, modeOf(net, job, b, false, reduce), job.weight, job.plan, need());
    case 'diagonal':
      yield* net.diagonalOn(b, modeOf(net, job, b, false, reduce), job.weight, job.estimate, job.samples, job.seed, need(), job.hessian);
      return 0;
    case 'loss':
      return yield* net.lossOn(b, modeOf(net, job, b, false, reduce), job.weight);
    case 'evalLoss':
      return yield* net.lossOn(b, EVAL, job.weight);
    case 'outputs':
      yield* net.outputsOn(b, modeOf(net, job, b, false, reduce), need());
      return 0;
    case 'evalOutputs':
      yield* net.outputsOn(b, EVAL, need());
      return 0;
    case 'statistics':
      yield* net.statisticsOn(b, job.step, reduce);
      return 0;
    case 'squaredGradients':
      yield* net.squaredGradientsOn(b, need(), job.step);
      return 0;
    case 'curvature':
      kept().set(job.id, yield* curvatureShare(net, job, b, reduce));
      return 0;
    case 'gv':
    case 'hv':
    case 'fv':
    case 'ev': {
      const c = kept().get(job.id);
      if (!c || c instanceof KroneckerSink) throw new Error(`network: no curvature ${job.id} on this thread`);
      yield* c.reads[job.kind](job.dir, need(), job.fresh);
      return 0;
    }
    case 'kronecker': {
      const { loss, sink } = yield* kroneckerShare(net, job, b, out, reduce);
      kept().set(job.id, sink);
      return loss;
    }
    case 'factors': {
      const sink = kept().get(job.id);
      if (!(sink instanceof KroneckerSink)) throw new Error(`network: no K-FAC factors ${job.id} on this thread`);
      kept().delete(job.id);
      flatten(sink, need());
      return 0;
    }
    case 'drop':
      kept().delete(job.id);
      return 0;
  }
}

/** A share of a curvature batch, its products to come (the caller keeps it). */
export function curvatureShare(net: NetworkPasses, job: Extract<Job, { kind: 'curvature' }>, b: Batch, reduce: Reduce | null): Reads<ShardCurvature> {
  return net.curvatureOn(b, job.at, modeOf(net, job, b, false, reduce), job.weight, job.fisher);
}

/** A share of a K-FAC factor pass: its weighted loss, its raw factor sums, and its gradient into `grad` when given. */
export function kroneckerShare(net: NetworkPasses, job: Extract<Job, { kind: 'kronecker' }>, b: Batch, grad: FloatArray | null, reduce: Reduce | null): Reads<{ loss: number; sink: KroneckerSink }> {
  return net.kroneckerOn(b, job.options, grad, modeOf(net, job, b, job.updateStats, reduce), job.weight);
}

/** The factor arrays of a sink in block order (every A, G, then every channel block's F). */
export function factorArrays(sink: KroneckerSink): Float64Array[] {
  const { kronecker, channels } = sink.blocks();
  return [...kronecker.flatMap((k) => [k.A, k.G]), ...channels.map((c) => c.F)];
}

/** A sink's factors one after another into `out` (factorArrays' order). */
function flatten(sink: KroneckerSink, out: FloatArray): void {
  let at = 0;
  for (const a of factorArrays(sink)) {
    if (at + a.length > out.length) throw new Error('network: the K-FAC factors of a share do not fit the space given');
    out.set(a, at);
    at += a.length;
  }
}
