/** The bench's results as markdown tables, with ratios to the baselines measured in the same run. */
import type { ConvResult } from './conv-suite.js';
import type { GemmResult } from './gemm.js';
import type { GemmInfo } from '../src/nd/backends/cpu/gemm-select.js';
import type { CurvatureResult, TrainResult } from './train-suite.js';
import type { ThreadsResult } from './threads.js';
import { CONV_WORKLOADS, convFlops } from './workloads.js';
import type { BrowserResult } from './browser.js';

interface TorchTiming { ms: number; samples: number }
interface TorchRun {
  version: string;
  threads: number;
  conv: Record<string, { forward: TorchTiming; backward: TorchTiming }>;
  train: Record<string, TorchTiming>;
}
export interface Results {
  date: string;
  cpu: string;
  cores: number;
  node: string;
  notes: string[];
  gemmInfo: GemmInfo;
  gemm: GemmResult[];
  conv: ConvResult[];
  train: TrainResult[];
  curvature: CurvatureResult[];
  /** PyTorch at one thread. */
  torch?: TorchRun;
  /** PyTorch at every thread count measured. */
  torchThreads: TorchRun[];
  threads: ThreadsResult[];
  memory: { steps: number; threads: number; ms: number; firstLoss: number; lastLoss: number; peakRssMB: number }[];
  /** W4's CPU profile (the calling thread's self time) at each thread count. */
  profiles: { threads: number; line: string; table: string }[];
  /** The browser page's benchmark (bench/browser.ts). */
  browser?: BrowserResult;
}

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '–');

/** ndcnn and PyTorch at one thread and at all cores, with each one's scaling. */
function threadsTable(r: Results): string {
  const counts = r.threads.map((t) => t.threads);
  const n = counts[counts.length - 1];
  const torchAt = (t: number) => r.torchThreads.find((x) => x.threads === t);
  const rows: string[][] = [];
  const row = (name: string, nd: (t: number) => number, pt: (t: number) => number) => {
    const [nd1, ndN, pt1, ptN] = [nd(1), nd(n), pt(1), pt(n)];
    rows.push([name, f(nd1), f(ndN), f(nd1 / ndN) + '×', f(pt1), f(ptN), f(pt1 / ptN) + '×', f((100 * ptN) / ndN, 0) + ' %']);
  };
  const at = (t: number) => r.threads.find((x) => x.threads === t);
  for (const w of CONV_WORKLOADS) {
    const nd1 = ['forward', 'backward'].reduce((s, p) => s + (r.conv.find((x) => x.workload === w.id && x.engine === 'ndcnn' && x.pass === p)?.timing?.ms ?? NaN), 0);
    const pt = (t: number) => { const c = torchAt(t)?.conv[w.id]; return c ? c.forward.ms + c.backward.ms : NaN; };
    // A lone convolution is a backend primitive: threads split a network's batch, not a primitive.
    row(`${w.id} forward + backward`, (t) => (t === 1 ? nd1 : NaN), pt);
  }
  for (const w of ['W4', 'W5 Gv', 'W5 Hv'] as const) row(w, (t) => at(t)?.[w].ms ?? NaN, (t) => torchAt(t)?.train[w]?.ms ?? NaN);
  row(`HF step, 1,000-sample batches, ${r.threads[0]?.hf.cgIterations ?? '?'} CG`, (t) => at(t)?.hf.ms ?? NaN, () => NaN);
  return `\n### Threads: 1 and ${n} (ms; scaling = time at 1 / time at ${n}; targets: W4 and the HF step ≥ 1.7× at 2)\n\n` +
    table(['workload', 'ndcnn 1', `ndcnn ${n}`, 'ndcnn scaling', 'PyTorch 1', `PyTorch ${n}`, 'PyTorch scaling', `ndcnn/PyTorch throughput at ${n}`], rows);
}

export function report(r: Results): string {
  const out: string[] = [];
  const torchName = r.torch ? `PyTorch ${r.torch.version} (${r.torch.threads} thr)` : 'PyTorch';
  out.push(`${r.cpu}, ${r.cores} cores, node ${r.node}; ndcnn gemm: ${r.gemmInfo.impl}${r.gemmInfo.detail ? ` — ${r.gemmInfo.detail}` : ''}`);

  out.push('\n### GEMM alone (per-sample forward shapes M×N×K)\n');
  out.push(table(['shape', 'impl', 'ms', 'GFLOP/s'], r.gemm.map((g) => [g.shape, g.impl, g.timing ? f(g.timing.ms, 3) : '–', g.gflops ? f(g.gflops, 1) : g.note ?? ''])));

  const ENGINES = [...new Set(r.conv.map((c) => c.engine))];
  out.push('\n### W1–W3 convolution, float32: ms (GFLOP/s); backward = input + filter gradients\n');
  const cell = (w: string, e: string, pass: string) => {
    const c = r.conv.find((x) => x.workload === w && x.engine === e && x.pass === pass);
    if (!c) return 'not run';
    return c.timing ? `${f(c.timing.ms)} (${f(c.gflops!)})` : `n/a: ${c.note}`;
  };
  const rows: string[][] = [];
  for (const w of CONV_WORKLOADS) {
    for (const pass of ['forward', 'backward'] as const) {
      const t = r.torch?.conv[w.id]?.[pass];
      const flops = convFlops(w) * (pass === 'backward' ? 2 : 1);
      const nd = r.conv.find((x) => x.workload === w.id && x.engine === 'ndcnn' && x.pass === pass)?.timing;
      rows.push([
        `${w.id} ${w.title}`, pass, ...ENGINES.map((e) => cell(w.id, e, pass)),
        t ? `${f(t.ms)} (${f(flops / t.ms / 1e6)})` : 'skipped',
        t && nd ? `${f((100 * t.ms) / nd.ms, 0)} %` : '–',
      ]);
    }
  }
  out.push(table(['workload', 'pass', ...ENGINES, torchName, 'ndcnn/PyTorch throughput'], rows));

  out.push('\n### W4 training step and W5 curvature products (ms)\n');
  const trainEngines = [...new Set(r.train.map((t) => t.engine))];
  const trainRows = ['W4', 'W5 Gv', 'W5 Hv'].map((w) => {
    const get = (e: string) => {
      const t = r.train.find((x) => x.workload === w && x.engine === e);
      return !t ? '–' : t.timing ? f(t.timing.ms) : `n/a: ${t.note}`;
    };
    const nd = r.train.find((x) => x.workload === w && x.engine === 'ndcnn')?.timing?.ms ?? NaN;
    const t = r.torch?.train[w]?.ms ?? NaN;
    return [w, ...trainEngines.map(get), f(t), f(nd / t) + '×'];
  });
  out.push(table(['workload', ...trainEngines, torchName, 'ndcnn time / PyTorch'], trainRows));

  out.push('\n### Curvature products relative to one gradient (targets: Gv/grad ≤ 2.5, cached Gv/grad ≤ 1.5)\n');
  out.push(table(['net', 'gradient ms', 'Hv ms', 'Gv ms', 'cached Gv ms', 'Hv/grad', 'Gv/grad', 'cached Gv/grad'],
    r.curvature.map((c) => [c.net, f(c.gradient.ms), f(c.hv.ms), f(c.gv.ms), f(c.gvCached.ms), f(c.hvOverGrad), f(c.gvOverGrad), f(c.gvCachedOverGrad)])));

  out.push(threadsTable(r));

  out.push('\n### Memory\n\nW4, 200 SGD steps in a child process (target: peak RSS < 300 MB at every thread count)\n');
  out.push(table(['threads', 'peak RSS MB', 'ms/step', 'loss'], r.memory.map((m) => [String(m.threads), f(m.peakRssMB, 0), f(m.ms / m.steps), `${f(m.firstLoss, 3)} → ${f(m.lastLoss, 3)}`])));
  for (const p of r.profiles) out.push(`\n### Where W4's time goes at ${p.threads} thread(s): the calling thread's self time (${p.line})\n\n${p.table}`);
  if (r.notes.length > 0) out.push('\nNotes:\n' + r.notes.map((n) => `- ${n}`).join('\n'));
  return out.join('\n');
}
