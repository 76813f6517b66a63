/**
 * plot.svg: loss (log scale) and held-out accuracy against optimizer steps, drawn from
 * metrics.jsonl by a few lines of SVG of our own: two panels, axes with round-number ticks,
 * one polyline per series, a legend.
 */
import type { EpochMetrics, MetricsLine, StepMetrics } from './metrics.js';

export interface Series {
  name: string;
  colour: string;
  points: [number, number][];
  /** Thin and faded (the noisy per-step loss) or bold (per-epoch values). */
  faint?: boolean;
  /** A dashed line without markers (a reference level such as 2/η). */
  dashed?: boolean;
  /** Markers only, no line (eigenvalues per layer). */
  scatter?: boolean;
}

export interface Panel {
  title: string;
  series: Series[];
  logY: boolean;
  /** x-axis label (default "step"). */
  xLabel?: string;
}

export const WIDTH = 720;
const PANEL_HEIGHT = 260;
const MARGIN = { left: 64, right: 170, top: 28, bottom: 36 };
export const COLOURS = ['#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf'];

export function renderPlot(lines: readonly MetricsLine[], title: string): string {
  const steps = lines.filter((l): l is StepMetrics => l.kind === 'step');
  const epochs = lines.filter((l): l is EpochMetrics => l.kind === 'epoch');
  const tests = [...new Set(epochs.flatMap((e) => Object.keys(e.test)))];
  const loss: Series[] = [
    { name: 'batch loss', colour: '#9ecae1', faint: true, points: steps.map((s) => [s.step, s.loss]) },
    { name: 'train loss (epoch)', colour: '#1f77b4', points: epochs.map((e) => [e.step, e.trainLoss]) },
    ...tests.map((t, i) => ({
      name: `${t} loss`,
      colour: COLOURS[i % COLOURS.length],
      points: epochs.filter((e) => e.test[t]).map((e): [number, number] => [e.step, e.test[t].loss]),
    })),
  ];
  const accuracy: Series[] = tests.map((t, i) => ({
    name: `${t} accuracy %`,
    colour: COLOURS[i % COLOURS.length],
    points: epochs.filter((e) => e.test[t]).map((e): [number, number] => [e.step, 100 * e.test[t].accuracy]),
  }));
  const sharpness = steps.filter((s) => typeof s.sharpness === 'number').map((s): [number, number] => [s.step, s.sharpness as number]);
  const panels: Panel[] = [
    { title: 'loss', series: loss, logY: true },
    ...(sharpness.length > 0 ? [{ title: 'sharpness (top Hessian eigenvalue)', series: [{ name: 'sharpness', colour: '#ff7f0e', points: sharpness }], logY: false }] : []),
    { title: 'held-out accuracy (%)', series: accuracy, logY: false },
  ];
  return renderPanels(panels, title);
}

/** Panels stacked vertically under a title, as one SVG document. */
export function renderPanels(panels: readonly Panel[], title: string): string {
  const height = panels.length * PANEL_HEIGHT + 30;
  const body = panels.map((p, i) => renderPanel(p, 30 + i * PANEL_HEIGHT)).join('\n');
  return svgDocument(title, height, body);
}

/** A white WIDTH × height SVG document with `title` centred on top and `body` below it. */
export function svgDocument(title: string, height: number, body: string): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="18" text-anchor="middle" font-size="14">${escapeXml(title)}</text>`,
    body,
    '</svg>',
    '',
  ].join('\n');
}

function renderPanel(panel: Panel, top: number): string {
  const usable = panel.series.map((s) => ({
    ...s,
    points: s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!panel.logY || y > 0)),
  }));
  const all = usable.flatMap((s) => s.points);
  const x0 = MARGIN.left;
  const x1 = WIDTH - MARGIN.right;
  const y0 = top + MARGIN.top;
  const y1 = top + PANEL_HEIGHT - MARGIN.bottom;
  const out: string[] = [`<text x="${x0}" y="${top + 16}" font-weight="bold">${escapeXml(panel.title)}</text>`];
  out.push(`<rect x="${x0}" y="${y0}" width="${x1 - x0}" height="${y1 - y0}" fill="none" stroke="#888"/>`);
  if (all.length === 0) {
    out.push(`<text x="${(x0 + x1) / 2}" y="${(y0 + y1) / 2}" text-anchor="middle" fill="#888">no data yet</text>`);
    return out.join('\n');
  }
  const fy = panel.logY ? Math.log10 : (v: number) => v;
  const [xMin, xMax] = padRange(Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0])));
  const [yMin, yMax] = padRange(Math.min(...all.map((p) => fy(p[1]))), Math.max(...all.map((p) => fy(p[1]))));
  const sx = (x: number) => x0 + ((x - xMin) / (xMax - xMin)) * (x1 - x0);
  const sy = (y: number) => y1 - ((fy(y) - yMin) / (yMax - yMin)) * (y1 - y0);

  for (const t of ticks(xMin, xMax)) {
    out.push(`<line x1="${sx(t)}" y1="${y1}" x2="${sx(t)}" y2="${y1 + 4}" stroke="#888"/>`);
    out.push(`<text x="${sx(t)}" y="${y1 + 16}" text-anchor="middle">${label(t)}</text>`);
  }
  const yTicks = panel.logY ? ticks(yMin, yMax).map((e) => 10 ** e) : ticks(yMin, yMax);
  for (const t of yTicks) {
    const y = sy(t);
    out.push(`<line x1="${x0}" y1="${y}" x2="${x1}" y2="${y}" stroke="#eee"/>`);
    out.push(`<text x="${x0 - 6}" y="${y + 4}" text-anchor="end">${label(t)}</text>`);
  }
  out.push(`<text x="${(x0 + x1) / 2}" y="${y1 + 30}" text-anchor="middle">${escapeXml(panel.xLabel ?? 'step')}</text>`);

  usable.forEach((s, i) => {
    if (s.points.length > 0 && s.scatter) {
      for (const [x, y] of s.points) out.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="3" fill="${s.colour}"/>`);
    } else if (s.points.length > 0) {
      const pts = s.points.map(([x, y]) => `${sx(x).toFixed(1)},${sy(y).toFixed(1)}`).join(' ');
      const width = s.faint ? 0.8 : s.dashed ? 1.2 : 2;
      const dash = s.dashed ? ' stroke-dasharray="6 4"' : '';
      out.push(`<polyline points="${pts}" fill="none" stroke="${s.colour}" stroke-width="${width}"${dash}/>`);
      if (!s.faint && !s.dashed && s.points.length <= 200) for (const [x, y] of s.points) out.push(`<circle cx="${sx(x).toFixed(1)}" cy="${sy(y).toFixed(1)}" r="2.5" fill="${s.colour}"/>`);
    }
    const ly = y0 + 12 + i * 16;
    out.push(`<line x1="${x1 + 12}" y1="${ly - 4}" x2="${x1 + 30}" y2="${ly - 4}" stroke="${s.colour}" stroke-width="2"/>`);
    out.push(`<text x="${x1 + 36}" y="${ly}">${escapeXml(s.name)}</text>`);
  });
  return out.join('\n');
}

/** A range with 4% headroom, never empty (a single value gets ±0.5). */
export function padRange(lo: number, hi: number): [number, number] {
  if (hi - lo < 1e-12) return [lo - 0.5, hi + 0.5];
  const pad = 0.04 * (hi - lo);
  return [lo - pad, hi + pad];
}

/** Ticks at 1, 2 or 5 × 10^k spacing, about five of them, inside [lo, hi]. */
export function ticks(lo: number, hi: number): number[] {
  const raw = (hi - lo) / 5;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const out: number[] = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9 * step; t += step) out.push(Number(t.toPrecision(12)));
  return out;
}

export function label(v: number): string {
  return Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0) ? v.toExponential(0) : String(Number(v.toPrecision(4)));
}

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}
