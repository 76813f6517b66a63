/**
 * `ndcnn worker`: takes sweep points from the BullMQ queue and trains each in a child process
 * (runner.ts), `concurrency` at a time. The job's lock is renewed while the child trains; if this
 * process dies, the lock lapses after `stallSeconds`, another worker's stalled-job check puts the
 * point back on the queue, and it runs again: from its last checkpoint when the run directory is
 * in a `--store` both workers see, from the start otherwise (each try then gets a scratch
 * directory, removed when its result has been sent back).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Worker } from 'bullmq';
import { clock } from '../progress.js';
import type { Io } from '../train.js';
import { connection, QUEUE_NAME, type PointJob, type PointResult } from './queue.js';
import { collectRun, PointBusyError, pointState, trainPoint } from './runner.js';

export interface WorkerOptions {
  url: string;
  /** Run directories live in STORE/runs/<id> (shared storage: a retry resumes); else scratch. */
  store?: string;
  concurrency: number;
  /** Lock duration and stalled-check interval: how soon a dead worker's point is taken over. */
  stallSeconds: number;
}

/** Runs until `signal` aborts; then finishes the points in hand and returns. */
export async function runWorker(opts: WorkerOptions, io: Io, signal: AbortSignal): Promise<void> {
  const name = `${hostname()}:${process.pid}`;
  const say = (s: string) => io.err(`worker ${name}: ${s}\n`);
  const store = opts.store !== undefined ? resolve(opts.store) : undefined;
  const worker = new Worker<PointJob, PointResult>(
    QUEUE_NAME,
    async (job) => {
      const id = job.id as string;
      const what = `point ${id} (${Object.entries(job.data.label).map(([k, v]) => `${k}=${v}`).join(' ')})`;
      const scratch = store === undefined ? mkdtempSync(join(tmpdir(), `ndcnn-point-${id}-`)) : undefined;
      const root = store ?? (scratch as string);
      const dir = join(root, 'runs', id);
      try {
        let run: ReturnType<typeof trainPoint> | undefined;
        let waiting = false;
        while (!run) {
          const state = pointState(dir);
          if (state === 'done') {
            say(`${what}: finished earlier (in ${store}), sending its result`);
            return { files: collectRun(dir), worker: name };
          }
          try {
            run = trainPoint(job.data.args, dir, join(root, 'logs', `${id}.log`));
            say(`${what}: ${state === 'resumable' ? 'resuming from its checkpoint' : 'training'} (try ${job.attemptsMade + 1})`);
          } catch (e) {
            // BullMQ gave us a point another worker still trains (Redis was away): wait for it.
            if (!(e instanceof PointBusyError)) throw e;
            if (!waiting) say(`${what}: waiting: ${e.message}`);
            waiting = true;
            await new Promise((r) => setTimeout(r, 1000));
          }
        }
        const started = performance.now();
        const { code, lastLine } = await run.done;
        if (code !== 0 || pointState(dir) !== 'done') {
          say(`${what}: failed: ${lastLine || `exit status ${code}`}`);
          throw new Error(lastLine || `exit status ${code}`);
        }
        say(`${what}: trained in ${clock((performance.now() - started) / 1000)}`);
        return { files: collectRun(dir), worker: name };
      } finally {
        if (scratch) rmSync(scratch, { recursive: true, force: true });
      }
    },
    {
      connection: connection(opts.url),
      concurrency: opts.concurrency,
      lockDuration: opts.stallSeconds * 1000,
      stalledInterval: opts.stallSeconds * 1000,
      // A point may outlive several dead workers before it counts as failed.
      maxStalledCount: 3,
    },
  );
  let lastError = '';
  worker.on('error', (e) => {
    // Redis down: ioredis retries forever; say so once per distinct problem, not every retry.
    if (e.message !== lastError) say(`queue error: ${e.message.split('\n')[0]} (retrying)`);
    lastError = e.message;
  });
  worker.on('ready', () => {
    if (lastError) say('queue connection back');
    lastError = '';
  });
  say(`taking points from ${opts.url} (queue ${QUEUE_NAME}, ${opts.concurrency} at a time, ${store ? `store ${store}` : 'no shared store: a retried point starts over'})`);
  await new Promise<void>((done) => {
    if (signal.aborted) done();
    signal.addEventListener('abort', () => done());
  });
  say('stopping: finishing the points in hand (Ctrl-C again to interrupt them; they keep their checkpoints)');
  await worker.close();
}
