/** The bench's results as markdown tables, with ratios to the baselines measured in the same run. */
import type { ConvResult } from './conv-suite.js';
import type { GemmResult } from './gemm.js';
import type { GemmInfo } from '../src/nd/backends/cpu/gemm-select.js';
import type { CurvatureResult, TrainResult } from './train-suite.js';
import { CONV_WORKLOADS, convFlops } from './workloads.js';

interface TorchTiming { ms: number; samples: number }
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
  torch?: {
    version: string;
    threads: number;
    conv: Record<string, { forward: TorchTiming; backward: TorchTiming }>;
    train: Record<string, TorchTiming>;
  };
  memory: { steps: number; ms: number; firstLoss: number; lastLoss: number; peakRssMB: number };
}

function table(head: string[], rows: string[][]): string {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n');
}

const f = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : '–');

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

  const m = r.memory;
  out.push(`\n### Memory\n\nW4, ${m.steps} SGD steps in a child process: peak RSS ${f(m.peakRssMB, 0)} MB (target < 300 MB), ${f(m.ms / m.steps)} ms/step, loss ${f(m.firstLoss, 3)} → ${f(m.lastLoss, 3)}.`);
  if (r.notes.length > 0) out.push('\nNotes:\n' + r.notes.map((n) => `- ${n}`).join('\n'));
  return out.join('\n');
}
