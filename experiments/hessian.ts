/**
 * `ndcnn hessian RUN_DIR`: the curvature of a trained run's training loss at its checkpoint.
 * Rebuilds the network as `eval` does, takes a seeded subset of the training set, and runs the
 * analysis library on H, G or K-FAC's block-diagonal Kronecker approximation of G (`--operator
 * kfac`: the exact type-2 factors, one backward pass per class, no sampling): top-K eigenpairs
 * by Lanczos (whole network and per layer), the trace by Hutchinson (to a relative standard error), the spectral density by SLQ. Writes
 * hessian.json and SVG plots (density on a log scale, eigenvalues per layer) to --out.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  CurvatureOperator,
  hutchinsonTrace,
  kroneckerOperator,
  perBlock,
  spectralDensity,
  topEigenpairs,
  type OperatorKind,
  type SymmetricOperator,
} from '../src/analysis/index.js';
import { parameterBlocks } from '../src/layers/index.js';
import { readsAsync } from '../src/nd/backend.js';
import { Rng } from '../src/nd/rng.js';
import { writeFileAtomic } from '../src/io/atomic.js';
import { restoreNetwork } from './checkpoint.js';
import { UsageError } from './errors.js';
import { renderPanels, type Series } from './plot.js';
import { clock, Progress } from './progress.js';
import { fromConfig, loadRunCheckpoint } from './resolve.js';
import { buildNetwork, loadData, openBackend, type BackendFlags } from './session.js';
import type { Io } from './train.js';

export interface HessianFlags extends BackendFlags {
  run: string;
  top?: number;
  trace?: boolean;
  density?: boolean;
  samples?: number;
  operator?: string;
  batchSize?: number;
  seed?: number;
  out?: string;
  /** Stop the trace at this relative standard error (default 0.05). */
  traceSe?: number;
  /** Random probes of the density (default 10). */
  probes?: number;
  /** Relative residual tolerance of the eigenpairs (default 1e-4: products run in float32). */
  tol?: number;
  backend?: string;
  dataDir?: string;
  quiet?: boolean;
}

const DEFAULT_SAMPLES = 1000;
/**
 * Product batches of 250 by default: on W4 with 1,000 samples they ran 1.2-1.3× faster than one
 * batch of 1,000 whose forward pass is reused (bench/hessian.ts) — the big batch's buffers cost
 * more in memory traffic than the recomputed forward passes.
 */
const DEFAULT_BATCH = 250;
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b', '#17becf'];

function positiveInteger(name: string, v: number | undefined): void {
  if (v !== undefined && !(Number.isInteger(v) && v > 0)) throw new UsageError(`--${name} must be a positive integer, got ${v}`);
}

function positive(name: string, v: number | undefined): void {
  if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw new UsageError(`--${name} must be a positive number, got ${v}`);
}

export async function hessian(f: HessianFlags, io: Io): Promise<void> {
  for (const [flag, v] of [['out', f.out], ['operator', f.operator], ['backend', f.backend], ['data-dir', f.dataDir]] as const) {
    if (typeof v === 'string' && v.trim() === '') throw new UsageError(`--${flag} needs a non-empty value`);
  }
  positiveInteger('top', f.top);
  positiveInteger('samples', f.samples);
  positiveInteger('batch-size', f.batchSize);
  positiveInteger('probes', f.probes);
  positive('trace-se', f.traceSe);
  positive('tol', f.tol);
  if (f.seed !== undefined && !Number.isInteger(f.seed)) throw new UsageError(`--seed must be an integer, got ${f.seed}`);
  const kind = (f.operator ?? 'hessian') as OperatorKind | 'kfac';
  if (kind !== 'hessian' && kind !== 'gauss-newton' && kind !== 'kfac') throw new UsageError(`--operator must be hessian, gauss-newton or kfac, got '${f.operator}'`);
  const { file, ckpt } = loadRunCheckpoint(f.run);
  const config = { ...ckpt.config };
  if (f.backend !== undefined) config.backend = f.backend;
  if (f.dataDir !== undefined) config.dataDir = f.dataDir;
  const backend = await openBackend(config.backend, f);
  // Lanczos, Hutchinson and SLQ (src/analysis) take their products synchronously.
  if (readsAsync(backend)) throw new UsageError(`--backend ${config.backend}: ndcnn hessian needs a backend that reads back synchronously (cpu or gpu); the analysis takes each product synchronously`);
  const train = loadData(config).train;
  const available = train.labels.length;
  if (f.samples !== undefined && f.samples > available) {
    throw new UsageError(`--samples ${f.samples}: the run's training set holds only ${available} examples`);
  }
  // K-FAC's factor pass runs on one thread for now.
  const net = fromConfig(file, () => buildNetwork(kind === 'kfac' ? { ...config, threads: 1 } : config, backend));
  restoreNetwork(net, ckpt, file);

  const seed = f.seed ?? 1;
  const n = f.samples ?? Math.min(DEFAULT_SAMPLES, available);
  const size = train.inputs.length / available;
  // A seeded subset of the training set, apart from the analysis' own probes (seed + 1).
  const pick = new Rng(seed).permutation(available).subarray(0, n);
  const x = new Float32Array(n * size);
  const y = new Int32Array(n);
  pick.forEach((i, k) => {
    x.set(train.inputs.subarray(i * size, (i + 1) * size), k * size);
    y[k] = train.labels[i];
  });
  const batchSize = Math.min(f.batchSize ?? DEFAULT_BATCH, n);
  const op = kind === 'kfac' ? kroneckerOperator(net, { x, y, n }, { kind: 'ggn', batchSize }) : new CurvatureOperator(net, { x, y, n }, { operator: kind, batchSize });
  const k = f.top ?? 1;
  if (k > op.dim) throw new UsageError(`--top ${k}: the network has only ${op.dim} parameters`);
  const tol = f.tol ?? 1e-4;
  const bar = new Progress({ bar: io.tty && !f.quiet, write: io.err });
  const started = performance.now();
  const name = { hessian: 'H', 'gauss-newton': 'G', kfac: 'K-FAC' }[kind];
  bar.line(`${file}: ${config.experiment} ${config.dataset}, step ${ckpt.progress.step}; ${name} of ${net.paramCount} parameters on ${n} training samples (batches of ${batchSize})`);

  const eig = (o: SymmetricOperator, label: string, kk: number) => {
    const maxSteps = Math.min(o.dim, Math.max(100, 10 * kk));
    bar.startTask(label, maxSteps, 'λ₁');
    const r = topEigenpairs(o, { k: kk, tol, maxSteps, seed: seed + 1, onStep: (_, top) => bar.tick(top) });
    bar.line(`${label}: ${r.values.map((v) => v.toPrecision(6)).join(', ')} (${r.steps} Lanczos steps, ${r.converged.filter(Boolean).length}/${r.values.length} converged to ${tol})`);
    return { values: r.values, residuals: r.residuals, converged: r.converged, steps: r.steps };
  };
  const traceOf = (o: SymmetricOperator, label: string) => {
    const maxProbes = 500;
    bar.startTask(label, maxProbes, 'trace');
    const t = hutchinsonTrace(o, { maxProbes, relativeStdError: f.traceSe ?? 0.05, seed: seed + 2, onProbe: (_, tr) => bar.tick(tr) });
    bar.line(`${label}: ${t.trace.toPrecision(6)} ± ${t.stdError.toPrecision(3)} (${t.probes} probes)`);
    return { trace: t.trace, stdError: t.stdError, probes: t.probes };
  };

  const top = eig(op, `top ${k} eigenvalue${k > 1 ? 's' : ''} of ${name}`, k);
  const trace = f.trace ? traceOf(op, `trace of ${name}`) : undefined;
  let density;
  if (f.density) {
    const probes = f.probes ?? 10;
    bar.startTask(`density of ${name}`, probes, 'probe');
    density = spectralDensity(op, { probes, seed: seed + 3, onProbe: (p) => bar.tick(p) });
    bar.line(`density of ${name}: ${probes} probes × ${density.ritz[0].values.length} Lanczos steps, σ = ${density.sigma.toPrecision(3)}`);
  }
  const layers = perBlock(op, parameterBlocks(net), (sub, b) => ({
    top: eig(sub, `${b.name} (${b.size} parameters) top`, Math.min(k, sub.dim)),
    trace: f.trace ? traceOf(sub, `${b.name} trace`) : undefined,
  })).map(({ block, result }) => ({ ...block, ...result }));

  const seconds = (performance.now() - started) / 1000;
  const out = resolve(f.out ?? join(resolve(file, '..'), 'hessian'));
  mkdirSync(out, { recursive: true });
  const result = {
    checkpoint: file,
    step: ckpt.progress.step,
    operator: kind,
    parameters: net.paramCount,
    samples: n,
    batchSize,
    seed,
    precision: 'float32 products, float64 accumulation',
    products: op.products,
    seconds: Math.round(seconds * 10) / 10,
    top,
    trace,
    density,
    layers,
  };
  writeFileAtomic(join(out, 'hessian.json'), `${JSON.stringify(result, null, 1)}\n`);
  const title = `${config.experiment} ${config.dataset} step ${ckpt.progress.step}: ${name} on ${n} samples`;
  const perLayer: Series[] = layers.map((l, i) => ({ name: l.name, colour: COLOURS[i % COLOURS.length], scatter: true, points: l.top.values.map((v): [number, number] => [i + 1, v]) }));
  writeFileAtomic(join(out, 'layers.svg'), renderPanels([{ title: `top ${k} eigenvalue(s) per layer`, series: perLayer, logY: false, xLabel: 'layer (in order, see legend)' }], title));
  if (density) {
    const points = density.grid.map((g, i): [number, number] => [g, density.density[i]]);
    writeFileAtomic(join(out, 'density.svg'), renderPanels([{ title: `spectral density (SLQ, log scale)`, series: [{ name: 'density', colour: '#1f77b4', points }], logY: true, xLabel: 'eigenvalue' }], title));
  }
  io.out(`${op.products} products in ${clock(seconds)}; results in ${out}\n`);
}
