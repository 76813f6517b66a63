/**
 * Progress of a sweep on stderr: points done, running, failed and queued. On a terminal one line
 * redrawn in place; with --quiet or off a terminal, one line per event (a point starting,
 * finishing or failing), so logs stay readable.
 */
import { clock } from '../progress.js';
import type { FlagValue } from './spec.js';

export type PointStatus = 'queued' | 'running' | 'done' | 'failed';

export class SweepStatus {
  private readonly status = new Map<string, PointStatus>();
  private readonly started = performance.now();
  private drawn = false;
  /** Redraws the live line every second, so its clock runs between events. */
  private readonly timer?: NodeJS.Timeout;

  constructor(
    ids: string[],
    private readonly live: boolean,
    private readonly write: (s: string) => void,
  ) {
    for (const id of ids) this.status.set(id, 'queued');
    if (live) {
      this.timer = setInterval(() => this.draw(), 1000);
      this.timer.unref();
    }
  }

  /** Records a change; `note` (an accuracy, an error) goes into the per-event line. */
  set(id: string, status: PointStatus, label: Record<string, FlagValue>, note = ''): void {
    if (this.status.get(id) === status) return;
    this.status.set(id, status);
    if (this.live) {
      this.draw();
      if (status === 'failed') this.event(id, status, label, note);
    } else {
      this.event(id, status, label, note);
    }
  }

  count(status: PointStatus): number {
    let n = 0;
    for (const s of this.status.values()) if (s === status) n++;
    return n;
  }

  line(): string {
    return `sweep: ${this.count('done')} done, ${this.count('running')} running, ${this.count('failed')} failed, ${this.count('queued')} queued [${clock((performance.now() - this.started) / 1000)}]`;
  }

  /** Ends the live line (or prints the totals once). */
  finish(): void {
    clearInterval(this.timer);
    if (this.drawn) this.write('\r\x1b[K');
    this.write(`${this.line()}\n`);
  }

  private draw(): void {
    this.drawn = true;
    this.write(`\r${this.line()}\x1b[K`);
  }

  private event(id: string, status: PointStatus, label: Record<string, FlagValue>, note: string): void {
    if (this.drawn) this.write('\r\x1b[K');
    const what = Object.entries(label).map(([k, v]) => `${k}=${v}`).join(' ');
    this.write(`point ${id} (${what}): ${status}${note ? ` ${note}` : ''}  [${this.line()}]\n`);
    if (this.live) this.draw();
  }
}
