/**
 * `ndcnn sweep SPEC` and `ndcnn sweep report DIR`: open (or reopen) the sweep directory, run its
 * unfinished points on the local pool or the queue, then write and print the report.
 */
import { availableParallelism } from 'node:os';
import { checkInteger } from '../config.js';
import { UsageError } from '../errors.js';
import type { Io } from '../train.js';
import { runLocal, type SweepOutcome } from './pool.js';
import { connection, runQueued } from './queue.js';
import { writeReport } from './report.js';
import { SweepStatus } from './status.js';
import { openSweep, readSweep } from './sweepdir.js';

export interface SweepFlags {
  spec: string;
  out?: string;
  workers?: number;
  queue?: string;
  attempts?: number;
  quiet?: boolean;
  maxPoints?: number;
}

/** Returns the exit status: 0 when every point finished, 130 when interrupted. */
export async function sweepCommand(f: SweepFlags, io: Io, signal: AbortSignal): Promise<number> {
  checkInteger('workers', f.workers, 1);
  checkInteger('attempts', f.attempts, 1);
  checkInteger('max-points', f.maxPoints, 1);
  if (f.queue !== undefined && f.workers !== undefined) throw new UsageError('--workers is for the local pool; with --queue, start `ndcnn worker` processes instead');
  if (f.queue !== undefined) connection(f.queue); // a malformed URL fails before anything is written
  const sweep = openSweep(f.spec, f.out, f.maxPoints);
  const where = f.queue ? `the queue at ${f.queue}` : `${f.workers ?? availableParallelism()} local workers`;
  io.err(`sweep ${sweep.spec.name}: ${sweep.points.length} points on ${where}; directory ${sweep.dir}\n`);
  const status = new SweepStatus(sweep.points.map((p) => p.id), io.tty && !f.quiet, io.err);
  let outcome: SweepOutcome;
  try {
    outcome = f.queue
      ? await runQueued(sweep, { url: f.queue, attempts: f.attempts ?? 3 }, status, signal)
      : await runLocal(sweep, f.workers ?? availableParallelism(), status, signal);
  } finally {
    status.finish();
  }
  if (outcome.interrupted) {
    io.err(`interrupted; resume with: ndcnn sweep ${sweep.dir}${f.queue ? ` --queue ${f.queue}` : ''}\n`);
    return 130;
  }
  const report = writeReport(sweep);
  if (outcome.failed.length > 0) {
    io.out(report.table);
    throw new Error(
      `${outcome.failed.length} of ${sweep.points.length} points failed (first: ${outcome.failed[0].id}: ${outcome.failed[0].reason}); ` +
        `logs in ${sweep.dir}/logs; fix and resume with: ndcnn sweep ${sweep.dir}`,
    );
  }
  io.out(report.table);
  return 0;
}

export function reportCommand(dir: string, io: Io): void {
  const r = writeReport(readSweep(dir, 'saved'));
  io.out(r.table);
  io.err(`wrote ${r.files.join(', ')}\n`);
}
