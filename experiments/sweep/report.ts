/**
 * `ndcnn sweep report DIR`: the sweep's points grouped into configurations (every swept flag but
 * `seed`), each with mean ± standard deviation over its seeds of the held-out accuracy, the final
 * losses and the training time, as a Markdown table (report.md, and stdout), the numbers as
 * report.json, and two plots (plots.ts): learning curves with ±1 std bands and accuracy per
 * configuration with error bars. Reads only the run directories, so it works mid-sweep too.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../../src/io/atomic.js';
import { readMetrics, type EpochMetrics } from '../metrics.js';
import { accuracyPlot, curvesPlot } from './plots.js';
import { readSummary } from './runner.js';
import type { FlagValue } from './spec.js';
import { runDir, type Sweep } from './sweepdir.js';

/** Mean and sample standard deviation (n − 1; 0 for a single value). */
export interface Stat {
  mean: number;
  std: number;
  n: number;
}

export interface ConfigResult {
  /** "optimizer=sgd lr=0.1", or "all" for a seeds-only sweep. */
  name: string;
  flags: Record<string, FlagValue>;
  points: number;
  finished: number;
  seeds: FlagValue[];
  accuracy: Record<string, Stat>;
  testLoss: Record<string, Stat>;
  trainLoss: Stat;
  seconds: Stat;
  /** Per epoch (1-based index e − 1): train loss and each held-out set's accuracy. */
  curves: { trainLoss: Stat[]; accuracy: Record<string, Stat[]> };
}

export function stat(values: number[]): Stat {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, n };
}

export function summarise(sweep: Sweep): ConfigResult[] {
  const groups = new Map<string, ConfigResult & { runs: { epochs: EpochMetrics[]; summary: NonNullable<ReturnType<typeof readSummary>> }[] }>();
  for (const p of sweep.points) {
    const flags = Object.fromEntries(Object.entries(p.label).filter(([k]) => k !== 'seed'));
    const name = Object.entries(flags).map(([k, v]) => `${k}=${v}`).join(' ') || 'all';
    let g = groups.get(name);
    if (!g) {
      g = { name, flags, points: 0, finished: 0, seeds: [], accuracy: {}, testLoss: {}, trainLoss: stat([]), seconds: stat([]), curves: { trainLoss: [], accuracy: {} }, runs: [] };
      groups.set(name, g);
    }
    g.points++;
    const dir = runDir(sweep, p.id);
    const summary = readSummary(dir);
    if (!summary || summary.stopped || !existsSync(join(dir, 'metrics.jsonl'))) continue;
    g.finished++;
    g.seeds.push(p.label.seed ?? summary.config.seed);
    g.runs.push({ summary, epochs: readMetrics(join(dir, 'metrics.jsonl')).filter((l): l is EpochMetrics => l.kind === 'epoch') });
  }
  return [...groups.values()].map(({ runs, ...g }) => {
    const tests = [...new Set(runs.flatMap((r) => Object.keys(r.summary.test)))];
    const over = (f: (r: (typeof runs)[number]) => number | undefined) => stat(runs.map(f).filter((v): v is number => v !== undefined));
    const epochs = Math.max(0, ...runs.map((r) => r.epochs.length));
    const perEpoch = (f: (e: EpochMetrics) => number | undefined) =>
      Array.from({ length: epochs }, (_, i) => over((r) => (r.epochs[i] ? f(r.epochs[i]) : undefined)));
    return {
      ...g,
      accuracy: Object.fromEntries(tests.map((t) => [t, over((r) => r.summary.test[t]?.accuracy)])),
      testLoss: Object.fromEntries(tests.map((t) => [t, over((r) => r.summary.test[t]?.loss)])),
      trainLoss: over((r) => r.epochs.at(-1)?.trainLoss),
      seconds: over((r) => r.summary.seconds),
      curves: {
        trainLoss: perEpoch((e) => e.trainLoss),
        accuracy: Object.fromEntries(tests.map((t) => [t, perEpoch((e) => e.test[t]?.accuracy)])),
      },
    };
  });
}

const pm = (s: Stat, digits: number, scale = 1) =>
  s.n === 0 ? '–' : s.n === 1 ? (scale * s.mean).toFixed(digits) : `${(scale * s.mean).toFixed(digits)} ± ${(scale * s.std).toFixed(digits)}`;

/** The Markdown table: one row per configuration. */
export function table(results: ConfigResult[]): string {
  const tests = [...new Set(results.flatMap((r) => Object.keys(r.accuracy)))];
  const head = ['configuration', 'seeds', ...tests.map((t) => `${t} accuracy %`), 'final train loss', ...tests.map((t) => `${t} loss`), 'time s'];
  const rows = results.map((r) => [
    r.name,
    r.finished === r.points ? String(r.finished) : `${r.finished} of ${r.points}`,
    ...tests.map((t) => pm(r.accuracy[t] ?? stat([]), 2, 100)),
    pm(r.trainLoss, 4),
    ...tests.map((t) => pm(r.testLoss[t] ?? stat([]), 4)),
    pm(r.seconds, 1),
  ]);
  return [head, head.map(() => '---'), ...rows].map((cells) => `| ${cells.join(' | ')} |`).join('\n') + '\n';
}

/** Writes report.md, report.json, curves.svg and accuracy.svg into the sweep directory. */
export function writeReport(sweep: Sweep): { table: string; files: string[] } {
  const results = summarise(sweep);
  const t = table(results);
  const title = `${sweep.spec.name} (${sweep.spec.experiment})`;
  const note = 'mean ± sample standard deviation over seeds; time is each run\'s own training time\n';
  const files = {
    'report.md': `# Sweep ${title}\n\n${t}\n${note}\n![learning curves](curves.svg)\n\n![accuracy](accuracy.svg)\n`,
    'report.json': `${JSON.stringify(results, null, 2)}\n`,
    'curves.svg': curvesPlot(results, title),
    'accuracy.svg': accuracyPlot(results, title),
  };
  for (const [name, text] of Object.entries(files)) writeFileAtomic(join(sweep.dir, name), text);
  return { table: t, files: Object.keys(files).map((n) => join(sweep.dir, n)) };
}

/** For tests and scripts: a report.json read back. */
export function readReport(dir: string): ConfigResult[] {
  return JSON.parse(readFileSync(join(dir, 'report.json'), 'utf8')) as ConfigResult[];
}
