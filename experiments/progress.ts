/**
 * Progress on stderr. On a terminal: one bar redrawn in place (at most 10 times a second) with
 * the step rate, the epoch's ETA and the running mean loss. Off a terminal, or with --quiet:
 * no bar, only a plain line per epoch, so logs and CI output stay readable.
 */
export interface ProgressOptions {
  /** Draw the bar (stderr is a TTY and not --quiet). */
  bar: boolean;
  write?: (s: string) => void;
  now?: () => number;
}

const REDRAW_MS = 100;
const BAR_WIDTH = 24;

export class Progress {
  private readonly write: (s: string) => void;
  private readonly now: () => number;
  private label = '';
  private total = 0;
  private done = 0;
  private lossSum = 0;
  private lossCount = 0;
  private started = 0;
  private startDone = 0;
  private lastDraw = 0;
  private drawn = false;
  /** Set by startTask: the bar shows this value's latest number instead of a mean loss. */
  private valueName: string | null = null;
  private latest = NaN;

  constructor(private readonly opts: ProgressOptions) {
    this.write = opts.write ?? ((s) => process.stderr.write(s));
    this.now = opts.now ?? (() => performance.now());
  }

  /** A new epoch of `total` batches of which `done` were already taken (a resumed epoch). */
  startEpoch(label: string, total: number, done: number, lossSum: number): void {
    this.label = label;
    this.total = total;
    this.done = done;
    this.startDone = done;
    this.lossSum = lossSum;
    this.lossCount = done;
    this.started = this.now();
    this.lastDraw = 0;
    this.valueName = null;
  }

  /** A computation of `total` units (Lanczos steps, probes); tick(v) shows the latest v as `name`. */
  startTask(label: string, total: number, name: string): void {
    this.startEpoch(label, total, 0, 0);
    this.valueName = name;
  }

  tick(loss: number): void {
    this.done++;
    this.latest = loss;
    this.lossSum += loss;
    this.lossCount++;
    if (!this.opts.bar) return;
    const t = this.now();
    if (t - this.lastDraw < REDRAW_MS && this.done < this.total) return;
    this.lastDraw = t;
    this.drawn = true;
    this.write(`\r${this.barLine(t)}\x1b[K`);
  }

  /** A line that stays: clears the bar first. */
  line(text: string): void {
    this.clear();
    this.write(`${text}\n`);
  }

  clear(): void {
    if (this.drawn) this.write('\r\x1b[K');
    this.drawn = false;
  }

  private barLine(t: number): string {
    const frac = this.total > 0 ? this.done / this.total : 1;
    const filled = Math.round(frac * BAR_WIDTH);
    const seconds = (t - this.started) / 1000;
    const rate = seconds > 0 ? (this.done - this.startDone) / seconds : 0;
    const eta = rate > 0 ? (this.total - this.done) / rate : NaN;
    const loss = this.lossCount > 0 ? this.lossSum / this.lossCount : NaN;
    const shown = this.valueName ? `${this.valueName} ${this.latest.toPrecision(5)}` : `loss ${loss.toFixed(4)}`;
    return (
      `${this.label} [${'#'.repeat(filled)}${'-'.repeat(BAR_WIDTH - filled)}] ${this.done}/${this.total} ` +
      `${rate.toFixed(1)} it/s ETA ${clock(eta)} ${shown}`
    );
  }
}

/** m:ss (or h:mm:ss); "?" while unknown. */
export function clock(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}
