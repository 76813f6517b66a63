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
import type { Batch } from '../nd/model.js';
import { EVAL, type NetworkPasses, type Reduce, type ShardCurvature } from '../layers/passes.js';
import { runSync, type Reads } from '../layers/reads.js';

/**
 * `step` is the randomness step (dropout's masks); `weight` the share's fraction of the batch,
 * by which its mean loss counts (the split sets it; 1 on a whole batch).
 */
export type Job =
  | { kind: 'gradient'; step: number; weight: number; updateStats: boolean }
  | { kind: 'loss' | 'evalLoss' | 'outputs' | 'evalOutputs' | 'squaredGradients' | 'statistics'; step: number; weight: number }
  | { kind: 'curvature'; id: number; step: number; weight: number; at: FloatArray }
  | { kind: 'gv' | 'hv'; id: number; dir: FloatArray; fresh: boolean }
  | { kind: 'drop'; id: number };

/**
 * Runs `job` on `b` (a share, or the whole batch) with `net`; vector or row results go to `out`.
 * `reduce` sums batch statistics over the shares (null: the batch is all here); `held` keeps the
 * curvature shares of a worker between its products. Returns the share's weighted loss (0 for
 * passes without one).
 */
export function runJob(net: NetworkPasses, job: Job, b: Batch, out: FloatArray | null, reduce: Reduce | null, held?: Map<number, ShardCurvature>): number {
  return runSync(net.backend, jobReads(net, job, b, out, reduce, held));
}

/** runJob with its read points. */
export function* jobReads(net: NetworkPasses, job: Job, b: Batch, out: FloatArray | null, reduce: Reduce | null, held?: Map<number, ShardCurvature>): Reads<number> {
  const need = (): FloatArray => {
    if (!out) throw new Error(`network: '${job.kind}' needs an output`);
    return out;
  };
  const curvatures = (): Map<number, ShardCurvature> => {
    if (!held) throw new Error(`network: '${job.kind}' runs on a worker`);
    return held;
  };
  switch (job.kind) {
    case 'gradient':
      return yield* net.gradientOn(b, need(), net.training(b, job.step, job.updateStats, reduce), job.weight);
    case 'loss':
      return yield* net.lossOn(b, net.training(b, job.step, false, reduce), job.weight);
    case 'evalLoss':
      return yield* net.lossOn(b, EVAL, job.weight);
    case 'outputs':
      yield* net.outputsOn(b, net.training(b, job.step, false, reduce), need());
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
      curvatures().set(job.id, yield* curvatureShare(net, job, b, reduce));
      return 0;
    case 'gv':
    case 'hv': {
      const c = curvatures().get(job.id);
      if (!c) throw new Error(`network: no curvature ${job.id} on this thread`);
      yield* c[job.kind === 'gv' ? 'gvReads' : 'hvReads'](job.dir, need(), job.fresh);
      return 0;
    }
    case 'drop':
      curvatures().delete(job.id);
      return 0;
  }
}

/** A share of a curvature batch, its products to come (the caller keeps it). */
export function curvatureShare(net: NetworkPasses, job: Extract<Job, { kind: 'curvature' }>, b: Batch, reduce: Reduce | null): Reads<ShardCurvature> {
  return net.curvatureOn(b, job.at, net.training(b, job.step, false, reduce), job.weight);
}
