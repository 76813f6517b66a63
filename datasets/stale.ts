/**
 * Leftovers of killed processes: atomic writes and fetches stage into temporary names that carry
 * the writer's PID (".checkpoint.ckpt.4711.tmp", ".fsdd-4711-a1b2c3"). A kill -9 leaves them
 * behind; the next run in that folder removes those whose process is gone. A live process, or
 * another user's we may not signal, keeps its files.
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';

/** Whether a process with this PID exists (EPERM: it does, but belongs to someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes the entries of `dir` whose names match `pattern` (its first group: the writer's PID)
 * and whose writer is dead; returns their names. A missing `dir` holds nothing.
 */
export function removeStale(dir: string, pattern: RegExp): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const removed: string[] = [];
  for (const name of names) {
    const pid = Number(pattern.exec(name)?.[1]);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || processAlive(pid)) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}
