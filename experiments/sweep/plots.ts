/**
 * The sweep report's SVG plots, in plot.ts's style (same size, margins, ticks, colours):
 * learning curves per configuration (train loss on a log scale, held-out accuracy), each a mean
 * line with a ±1 std band over seeds; and held-out accuracy per configuration as the mean with a
 * ±1 std error bar.
 */
import { COLOURS, escapeXml, label, padRange, svgDocument, ticks, WIDTH } from '../plot.js';
import type { ConfigResult, Stat } from './report.js';

const PANEL_HEIGHT = 260;
const MARGIN = { left: 64, right: 170, top: 28, bottom: 36 };

interface Band {
  name: string;
  colour: string;
  /** x, mean, std. */
  points: [number, number, number][];
}

interface Frame {
  x0: number;
  x1: number;
  y0: number;
  y1: number;
  sx: (x: number) => number;
  sy: (y: number) => number;
}

export function curvesPlot(results: ConfigResult[], title: string): string {
  const tests = [...new Set(results.flatMap((r) => Object.keys(r.curves.accuracy)))];
  const bands = (f: (r: ConfigResult) => Stat[], scale: number): Band[] =>
    results.map((r, i) => ({
      name: r.name,
      colour: COLOURS[i % COLOURS.length],
      points: f(r).flatMap((s, e): [number, number, number][] => (s.n > 0 ? [[e + 1, scale * s.mean, scale * s.std]] : [])),
    }));
  const panels = [
    { title: 'train loss per epoch (mean ± std over seeds)', bands: bands((r) => r.curves.trainLoss, 1), logY: true },
    ...tests.map((t) => ({ title: `${t} accuracy % (mean ± std over seeds)`, bands: bands((r) => r.curves.accuracy[t] ?? [], 100), logY: false })),
  ];
  const body = panels.map((p, i) => bandPanel(p.title, p.bands, p.logY, 30 + i * PANEL_HEIGHT));
  return svgDocument(title, panels.length * PANEL_HEIGHT + 30, body.join('\n'));
}

function bandPanel(title: string, bands: Band[], logY: boolean, top: number): string {
  // On a log axis the band's lower edge is clipped at a tenth of the mean (a std above the mean).
  const lo = (m: number, s: number) => (logY ? Math.max(m - s, m / 10) : m - s);
  const all = bands.flatMap((b) => b.points.flatMap(([x, m, s]): [number, number][] => [[x, lo(m, s)], [x, m + s]]));
  const { out, frame } = axes(title, all, logY, top, 'epoch');
  if (!frame) return out.join('\n');
  const { sx, sy } = frame;
  bands.forEach((b, i) => {
    if (b.points.length > 0) {
      const upper = b.points.map(([x, m, s]) => `${sx(x).toFixed(1)},${sy(m + s).toFixed(1)}`);
      const lower = b.points.map(([x, m, s]) => `${sx(x).toFixed(1)},${sy(lo(m, s)).toFixed(1)}`).reverse();
      out.push(`<polygon points="${[...upper, ...lower].join(' ')}" fill="${b.colour}" fill-opacity="0.18" stroke="none"/>`);
      out.push(`<polyline points="${b.points.map(([x, m]) => `${sx(x).toFixed(1)},${sy(m).toFixed(1)}`).join(' ')}" fill="none" stroke="${b.colour}" stroke-width="2"/>`);
    }
    out.push(legend(frame, i, b.name, b.colour));
  });
  return out.join('\n');
}

export function accuracyPlot(results: ConfigResult[], title: string): string {
  const tests = [...new Set(results.flatMap((r) => Object.keys(r.accuracy)))];
  const body = tests.map((t, k) => {
    const top = 30 + k * (PANEL_HEIGHT + 60);
    const rows = results.map((r, i) => ({ i, r, s: r.accuracy[t] }));
    const values = rows.flatMap(({ i, s }): [number, number][] => (s && s.n > 0 ? [[i, 100 * (s.mean - s.std)], [i, 100 * (s.mean + s.std)]] : []));
    const { out, frame } = axes(`${t} accuracy % per configuration (mean ± std over seeds)`, values, false, top, '', [-0.5, results.length - 0.5]);
    if (!frame) return out.join('\n');
    const { sx, sy, y1 } = frame;
    for (const { i, r, s } of rows) {
      const colour = COLOURS[i % COLOURS.length];
      const x = sx(i);
      out.push(`<text x="${x.toFixed(1)}" y="${y1 + 14}" text-anchor="end" transform="rotate(-25 ${x.toFixed(1)} ${y1 + 14})">${escapeXml(r.name)}</text>`);
      if (!s || s.n === 0) continue;
      const [lo, hi] = [sy(100 * (s.mean - s.std)), sy(100 * (s.mean + s.std))];
      out.push(`<line x1="${x.toFixed(1)}" y1="${lo.toFixed(1)}" x2="${x.toFixed(1)}" y2="${hi.toFixed(1)}" stroke="${colour}" stroke-width="2"/>`);
      for (const y of [lo, hi]) out.push(`<line x1="${(x - 6).toFixed(1)}" y1="${y.toFixed(1)}" x2="${(x + 6).toFixed(1)}" y2="${y.toFixed(1)}" stroke="${colour}" stroke-width="2"/>`);
      out.push(`<circle cx="${x.toFixed(1)}" cy="${sy(100 * s.mean).toFixed(1)}" r="4" fill="${colour}"/>`);
      out.push(`<text x="${(x + 9).toFixed(1)}" y="${(sy(100 * s.mean) + 4).toFixed(1)}">${(100 * s.mean).toFixed(2)}</text>`);
    }
    return out.join('\n');
  });
  return svgDocument(title, tests.length * (PANEL_HEIGHT + 60) + 30, body.join('\n'));
}

/** Panel frame, title, ticks and axis label; `frame` is undefined when there is nothing to draw. */
function axes(title: string, pts: [number, number][], logY: boolean, top: number, xName: string, xRange?: [number, number]): { out: string[]; frame?: Frame } {
  const x0 = MARGIN.left;
  const x1 = WIDTH - MARGIN.right;
  const y0 = top + MARGIN.top;
  const y1 = top + PANEL_HEIGHT - MARGIN.bottom;
  const out = [`<text x="${x0}" y="${top + 16}" font-weight="bold">${escapeXml(title)}</text>`];
  out.push(`<rect x="${x0}" y="${y0}" width="${x1 - x0}" height="${y1 - y0}" fill="none" stroke="#888"/>`);
  const usable = pts.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y) && (!logY || y > 0));
  if (usable.length === 0) {
    out.push(`<text x="${(x0 + x1) / 2}" y="${(y0 + y1) / 2}" text-anchor="middle" fill="#888">no finished runs yet</text>`);
    return { out };
  }
  const fy = logY ? Math.log10 : (v: number) => v;
  const [xMin, xMax] = xRange ?? padRange(Math.min(...usable.map((p) => p[0])), Math.max(...usable.map((p) => p[0])));
  const [yMin, yMax] = padRange(Math.min(...usable.map((p) => fy(p[1]))), Math.max(...usable.map((p) => fy(p[1]))));
  const sx = (x: number) => x0 + ((x - xMin) / (xMax - xMin)) * (x1 - x0);
  const sy = (y: number) => y1 - ((fy(y) - yMin) / (yMax - yMin)) * (y1 - y0);
  if (xName) {
    for (const t of ticks(xMin, xMax).filter(Number.isInteger)) {
      out.push(`<line x1="${sx(t)}" y1="${y1}" x2="${sx(t)}" y2="${y1 + 4}" stroke="#888"/>`);
      out.push(`<text x="${sx(t)}" y="${y1 + 16}" text-anchor="middle">${label(t)}</text>`);
    }
    out.push(`<text x="${(x0 + x1) / 2}" y="${y1 + 30}" text-anchor="middle">${xName}</text>`);
  }
  for (const t of logY ? ticks(yMin, yMax).map((e) => 10 ** e) : ticks(yMin, yMax)) {
    out.push(`<line x1="${x0}" y1="${sy(t)}" x2="${x1}" y2="${sy(t)}" stroke="#eee"/>`);
    out.push(`<text x="${x0 - 6}" y="${sy(t) + 4}" text-anchor="end">${label(t)}</text>`);
  }
  return { out, frame: { x0, x1, y0, y1, sx, sy } };
}

function legend(f: Frame, i: number, name: string, colour: string): string {
  const ly = f.y0 + 12 + i * 16;
  return (
    `<line x1="${f.x1 + 12}" y1="${ly - 4}" x2="${f.x1 + 30}" y2="${ly - 4}" stroke="${colour}" stroke-width="2"/>\n` +
    `<text x="${f.x1 + 36}" y="${ly}">${escapeXml(name)}</text>`
  );
}
