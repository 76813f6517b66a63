/**
 * The embedded executor: a pool of `workers` child processes on this machine, each training one
 * point at a time with the ordinary `ndcnn train` (runner.ts). No server; the sweep directory is
 * the only state, so an interrupted sweep resumes by running it again.
 */
import { percent } from '../evaluate.js';
import { EXIT_INTERRUPTED, pointState, readSummary, trainPoint } from './runner.js';
import type { SweepPoint } from './spec.js';
import type { SweepStatus } from './status.js';
import { logFile, runDir, type Sweep } from './sweepdir.js';

export interface SweepOutcome {
  failed: { id: string; reason: string }[];
  /** Stopped by an interrupt before every point finished (the sweep can be resumed). */
  interrupted: boolean;
}

export async function runLocal(sweep: Sweep, workers: number, status: SweepStatus, signal?: AbortSignal): Promise<SweepOutcome> {
  const todo: SweepPoint[] = [];
  for (const p of sweep.points) {
    if (pointState(runDir(sweep, p.id)) === 'done') status.set(p.id, 'done', p.label, 'earlier');
    else todo.push(p);
  }
  const outcome: SweepOutcome = { failed: [], interrupted: false };
  const running = new Set<() => void>();
  const onAbort = () => {
    outcome.interrupted = true;
    for (const kill of running) kill();
  };
  signal?.addEventListener('abort', onAbort);
  const lane = async () => {
    for (let p = todo.shift(); p && !signal?.aborted; p = todo.shift()) {
      const dir = runDir(sweep, p.id);
      let run: ReturnType<typeof trainPoint>;
      try {
        run = trainPoint(p.args, dir, logFile(sweep, p.id));
      } catch (e) {
        outcome.failed.push({ id: p.id, reason: (e as Error).message });
        status.set(p.id, 'failed', p.label, (e as Error).message);
        continue;
      }
      status.set(p.id, 'running', p.label);
      running.add(run.kill);
      const { code, lastLine } = await run.done;
      running.delete(run.kill);
      if (code === 0 && pointState(dir) === 'done') {
        status.set(p.id, 'done', p.label, accuracyNote(dir));
      } else if (code === EXIT_INTERRUPTED && signal?.aborted) {
        status.set(p.id, 'queued', p.label, 'interrupted (checkpointed)');
      } else {
        const reason = lastLine || `exit status ${code}`;
        outcome.failed.push({ id: p.id, reason });
        status.set(p.id, 'failed', p.label, `${reason} (log: ${logFile(sweep, p.id)})`);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(workers, todo.length)) }, lane));
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
  return outcome;
}

/** "held-out 97.10%" from a finished run's summary, for the per-event lines. */
export function accuracyNote(dir: string): string {
  const s = readSummary(dir);
  const first = s ? Object.entries(s.test)[0] : undefined;
  return first ? `${first[0]} ${percent(first[1].accuracy)}` : '';
}
