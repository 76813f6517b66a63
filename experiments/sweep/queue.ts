/**
 * Beyond one machine: sweep points as BullMQ jobs on Redis. The submitter (`ndcnn sweep --queue`)
 * adds one job per unfinished point, with the point's identity as the job id (BullMQ ignores an
 * add whose id exists, so resubmitting never queues a point twice), then polls the jobs and writes
 * each result (the run's files, returned by the worker as the job's return value) into its sweep
 * directory. Workers (`ndcnn worker`, worker.ts) take the jobs; BullMQ's locks, stalled-job
 * detection and retries hand a dead worker's point to another.
 */
import { Job, Queue } from 'bullmq';
import { UsageError } from '../errors.js';
import { writeRun, pointState, type RunFiles } from './runner.js';
import { accuracyNote, type SweepOutcome } from './pool.js';
import type { FlagValue } from './spec.js';
import type { SweepStatus } from './status.js';
import { runDir, type Sweep } from './sweepdir.js';

export const QUEUE_NAME = 'ndcnn-sweep';
/** Poll period: a few times a second for a small sweep, less often for a large one (two Redis calls per point per poll). */
const pollMs = (pending: number) => Math.min(5000, 250 + 10 * pending);
/** How long the submitter waits for Redis (at start, or after losing it) before it gives up. */
export const REDIS_GRACE_MS = 5000;

export interface PointJob {
  args: string[];
  label: Record<string, FlagValue>;
}

export interface PointResult {
  files: RunFiles;
  /** Which worker trained it, and whether it ran here or was found finished in the store. */
  worker: string;
}

/** Redis is unreachable: a clear message, and the sweep directory keeps everything finished so far. */
export class QueueLostError extends Error {
  override name = 'QueueLostError';
}

/** ioredis options from a redis:// URL; a malformed URL is the user's to fix. */
export function connection(url: string, extra: Record<string, unknown> = {}) {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new UsageError(`--queue ${url}: not a URL (expected redis://HOST:PORT)`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new UsageError(`--queue ${url}: expected a redis:// or rediss:// URL`);
  return { url, ...extra };
}

export interface QueueOptions {
  url: string;
  /** Tries per point before it counts as failed (BullMQ `attempts`). */
  attempts: number;
}

export async function runQueued(sweep: Sweep, opts: QueueOptions, status: SweepStatus, signal?: AbortSignal): Promise<SweepOutcome> {
  // Commands fail at once while Redis is down (no offline queue), so the loop below notices.
  const queue = new Queue<PointJob, PointResult>(QUEUE_NAME, {
    connection: connection(opts.url, { maxRetriesPerRequest: 1, enableOfflineQueue: false, retryStrategy: () => 500 }),
  });
  // The connection's own error (ECONNREFUSED) says more than a refused command's.
  let connectionError = '';
  let lastError = '';
  queue.on('error', (e) => {
    connectionError = e.message;
  });
  const outcome: SweepOutcome = { failed: [], interrupted: false };
  const pending = new Map(sweep.points.map((p) => [p.id, p]));
  for (const p of sweep.points) {
    if (pointState(runDir(sweep, p.id)) === 'done') {
      status.set(p.id, 'done', p.label, 'earlier');
      pending.delete(p.id);
    }
  }
  const lost = (since: number) =>
    new QueueLostError(
      `no answer from Redis at ${opts.url} for ${Math.round((performance.now() - since) / 1000)} s (${connectionError || lastError}); ` +
        `the ${status.count('done')} finished points are saved in ${sweep.dir}; start Redis again and resume with: ndcnn sweep ${sweep.dir} --queue ${opts.url}`,
    );
  let lostSince: number | undefined;
  let submitted = false;
  try {
    while (pending.size > 0 && !signal?.aborted) {
      try {
        if (!submitted) {
          for (const [id, p] of pending) {
            const state = await queue.getJobState(id);
            if (state === 'unknown') await add(queue, id, p, opts.attempts);
            // Resubmitting a sweep gives its failed points their tries again.
            else if (state === 'failed') await (await Job.fromId(queue, id))?.retry('failed');
          }
          submitted = true;
        }
        for (const [id, p] of pending) {
          const state = await queue.getJobState(id);
          if (state === 'completed') {
            const job = await Job.fromId<PointJob, PointResult>(queue, id);
            if (!job?.returnvalue?.files) throw new Error(`job ${id} completed without a result`);
            writeRun(runDir(sweep, id), job.returnvalue.files);
            status.set(id, 'done', p.label, `${accuracyNote(runDir(sweep, id))} (by ${job.returnvalue.worker})`);
            pending.delete(id);
          } else if (state === 'failed') {
            // Final: BullMQ keeps a job that has tries left in 'delayed' or 'waiting'.
            const reason = (await Job.fromId(queue, id))?.failedReason ?? 'failed';
            outcome.failed.push({ id, reason });
            status.set(id, 'failed', p.label, reason);
            pending.delete(id);
          } else if (state === 'unknown') {
            // Redis restarted without its data: queue the point again (a worker with --store
            // that finished it returns the stored result without training it again).
            await add(queue, id, p, opts.attempts);
          } else {
            status.set(id, state === 'active' ? 'running' : 'queued', p.label);
          }
        }
        lostSince = undefined;
      } catch (e) {
        if (!isConnectionError(e)) throw e;
        lastError = (e as Error).message;
        lostSince ??= performance.now();
        if (performance.now() - lostSince > REDIS_GRACE_MS) throw lost(lostSince);
      }
      if (pending.size > 0) await new Promise((r) => setTimeout(r, pollMs(pending.size)));
    }
    outcome.interrupted = pending.size > 0;
  } finally {
    // close() would wait for Redis; the sweep directory already holds every result.
    queue.disconnect();
  }
  return outcome;
}

function add(queue: Queue<PointJob, PointResult>, id: string, p: { args: string[]; label: Record<string, FlagValue> }, attempts: number) {
  return queue.add('train', { args: p.args, label: p.label }, { jobId: id, attempts, backoff: { type: 'fixed', delay: 1000 } });
}

/** Errors from a connection that is down (ioredis/BullMQ phrase them in a few ways). */
export function isConnectionError(e: unknown): boolean {
  const m = (e as Error)?.message ?? '';
  return /ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|Connection is closed|Stream isn't writeable|enableOfflineQueue|max retries|MaxRetriesPerRequest|ENOTFOUND|EHOSTUNREACH/i.test(m);
}
