/**
 * Line plots on a canvas, for the demo's loss and accuracy curves: axes with round tick values,
 * one line per series, a legend. Small on purpose: a charting library would outweigh the demo.
 */
export interface Series {
  /** Legend text; none for a series drawn only as background (raw values behind a trend). */
  label?: string;
  color: string;
  points: readonly (readonly [number, number])[];
  /** A thin, pale line instead of a bold one. */
  faint?: boolean;
  /** Marks each point too (sparse series such as periodic evaluations). */
  dots?: boolean;
  /** Dashed, so that a curve drawn over an identical one leaves it visible. */
  dashed?: boolean;
}

export interface PlotOptions {
  title: string;
  xLabel: string;
  /** Fixed y range; default from the data. */
  yRange?: [number, number];
}

const PAD = { left: 52, right: 22, top: 26, bottom: 34 };

export function drawPlot(canvas: HTMLCanvasElement, series: readonly Series[], o: PlotOptions): void {
  const ctx = canvas.getContext('2d');
  if (!ctx) return;
  const { width, height } = canvas;
  ctx.clearRect(0, 0, width, height);
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, width, height);
  ctx.font = '12px system-ui, sans-serif';
  ctx.fillStyle = '#222';
  ctx.fillText(o.title, PAD.left, 16);

  const all = series.flatMap((s) => s.points);
  const xMax = Math.max(10, ...all.map((p) => p[0]));
  const [yLo, yHi] = o.yRange ?? range(all.map((p) => p[1]));
  const w = width - PAD.left - PAD.right;
  const h = height - PAD.top - PAD.bottom;
  const X = (x: number) => PAD.left + (x / xMax) * w;
  const Y = (y: number) => PAD.top + (1 - (y - yLo) / (yHi - yLo || 1)) * h;

  ctx.strokeStyle = '#ddd';
  ctx.fillStyle = '#555';
  ctx.lineWidth = 1;
  for (const t of ticks(yLo, yHi)) {
    ctx.beginPath();
    ctx.moveTo(PAD.left, Y(t));
    ctx.lineTo(PAD.left + w, Y(t));
    ctx.stroke();
    ctx.fillText(label(t), 4, Y(t) + 4);
  }
  for (const t of ticks(0, xMax)) ctx.fillText(label(t), X(t) - 8, height - PAD.bottom + 16);
  ctx.fillText(o.xLabel, PAD.left + w / 2, height - 3);
  ctx.strokeStyle = '#888';
  ctx.strokeRect(PAD.left, PAD.top, w, h);

  let legend = 0;
  for (const s of series) {
    ctx.strokeStyle = s.color;
    ctx.fillStyle = s.color;
    ctx.globalAlpha = s.faint ? 0.25 : 1;
    ctx.lineWidth = s.faint ? 1 : 2;
    ctx.setLineDash(s.dashed ? [7, 5] : []);
    ctx.beginPath();
    s.points.forEach(([x, y], k) => (k === 0 ? ctx.moveTo(X(x), Y(y)) : ctx.lineTo(X(x), Y(y))));
    ctx.stroke();
    if (s.dots) for (const [x, y] of s.points) ctx.fillRect(X(x) - 2.5, Y(y) - 2.5, 5, 5);
    ctx.globalAlpha = 1;
    ctx.setLineDash([]);
    if (s.label === undefined) continue;
    const lx = PAD.left + w - 170;
    const ly = PAD.top + 14 + 16 * legend++;
    ctx.fillRect(lx, ly - 8, 14, 3);
    ctx.fillStyle = '#222';
    ctx.fillText(s.label, lx + 20, ly - 3);
  }
}

/** Exponential moving average (factor `a`), so a noisy batch loss reads as a trend. */
export function smooth(values: readonly number[], a = 0.2): [number, number][] {
  let m = values[0];
  return values.map((v, i) => [i + 1, (m = i === 0 ? v : m + a * (v - m))]);
}

function range(ys: number[]): [number, number] {
  if (ys.length === 0) return [0, 1];
  const lo = Math.min(0, ...ys);
  const hi = Math.max(...ys);
  return [lo, hi > lo ? hi * 1.05 : lo + 1];
}

/** About five round tick values (1, 2 or 5 × 10^k apart) covering [lo, hi]. */
function ticks(lo: number, hi: number): number[] {
  const raw = (hi - lo) / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9; t += step) out.push(Number(t.toPrecision(6)));
  return out;
}

function label(t: number): string {
  return Math.abs(t) >= 1000 ? `${t / 1000}k` : String(t);
}
