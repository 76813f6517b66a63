/**
 * One trainer per run directory. BullMQ can hand a point to a second worker while the first still
 * trains it (Redis was away long enough for the first's lock to lapse), and two sweeps can share
 * a directory; two processes writing one run directory would corrupt it. So a trainer holds
 * `<run dir>.lock` (created exclusively; it names the host, the holding process and its child) and
 * touches it every few seconds. A lock is stale when every process it names is gone (same host)
 * or it has not been touched for STALE_MS (another host, which we cannot ask).
 */
import { closeSync, openSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';

const HEARTBEAT_MS = 2000;
export const STALE_MS = 30_000;

interface Holder {
  host: string;
  pids: number[];
}

export class PointLock {
  private readonly timer: NodeJS.Timeout;
  private readonly holder: Holder = { host: hostname(), pids: [process.pid] };

  private constructor(private readonly path: string) {
    this.write();
    this.timer = setInterval(() => {
      try {
        utimesSync(path, new Date(), new Date());
      } catch {
        // The store went away; the trainer's own writes will fail and say so.
      }
    }, HEARTBEAT_MS);
    this.timer.unref();
  }

  /** The lock for run directory `dir`, or a description of who holds it. */
  static acquire(dir: string): PointLock | string {
    const path = `${dir}.lock`;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        closeSync(openSync(path, 'wx'));
        return new PointLock(path);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const held = read(path);
      if (held && !stale(path, held)) return `${held.host}:${held.pids.join('+')}`;
      rmSync(path, { force: true });
    }
    return 'another process (the lock keeps reappearing)';
  }

  /** Adds the training child, which may outlive this process by a step. */
  addChild(pid: number | undefined): void {
    if (pid !== undefined) this.holder.pids.push(pid);
    this.write();
  }

  release(): void {
    clearInterval(this.timer);
    rmSync(this.path, { force: true });
  }

  private write(): void {
    writeFileSync(this.path, `${JSON.stringify(this.holder)}\n`);
  }
}

function read(path: string): Holder | null {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Holder;
  } catch {
    // Being written this instant, or gone: judge by its age alone.
    return { host: '?', pids: [] };
  }
}

function stale(path: string, h: Holder): boolean {
  let age: number;
  try {
    age = Date.now() - statSync(path).mtimeMs;
  } catch {
    return true;
  }
  if (h.host === hostname() && h.pids.length > 0) return !h.pids.some(alive);
  return age > STALE_MS;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
