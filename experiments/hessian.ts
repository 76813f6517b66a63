/**
 * `ndcnn hessian RUN_DIR`: the curvature of a trained run's training loss at its checkpoint.
 * Rebuilds the network as `eval` does, takes a seeded subset of the training set, and runs the
 * analysis library on H, the GGN, the Monte-Carlo Fisher or the empirical Fisher, in training or
 * evaluation mode, or on K-FAC's block-diagonal Kronecker approximation of G (`--operator kfac`:
 * the exact type-2 factors, one backward pass per class, no sampling): top-K eigenpairs by Lanczos (whole network and per layer), the trace by
 * Hutchinson (to a relative standard error) or Hutch++, the spectral density by SLQ, the
 * operator's diagonal (exact where the network allows it, else Hutchinson's estimate) and the
 * per-sample gradients' variance. Writes hessian.json, SVG plots (density on a log scale,
 * eigenvalues per layer) and the diagonal and variance as .npy vectors to --out.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  CurvatureOperator,
  hutchinsonDiagonal,
  hutchinsonTraceAsync,
  hutchPlusPlus,
  kroneckerOperator,
  perBlockAsync,
  spectralDensityAsync,
  topEigenpairsAsync,
  type OperatorKind,
  type SymmetricOperator,
} from '../src/analysis/index.js';
import { parameterBlocks } from '../src/layers/index.js';
import { Rng } from '../src/nd/rng.js';
import { writeFileAtomic } from '../src/io/atomic.js';
import { encodeNpy } from '../src/io/npy.js';
import type { Network } from '../src/network/index.js';
import { sliceBatch, type Batch } from '../src/nd/model.js';
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
  /** 'train' (batch statistics, dropout; default) or 'eval' (running statistics, no dropout). */
  mode?: string;
  /** Sampled targets per sample of the Monte-Carlo Fisher (default 1). */
  fisherSamples?: number;
  /** 'hutchinson' (default) or 'hutch++'. */
  traceMethod?: string;
  /** Products of a Hutch++ trace (default 99). */
  traceProducts?: number;
  /** The operator's diagonal. */
  diagonal?: boolean;
  /** Per-sample gradient norms and variance. */
  variance?: boolean;
}

/** --operator's names: the analysis library's, and short ones. */
const OPERATORS: Record<string, OperatorKind | 'kfac'> = {
  hessian: 'hessian',
  ggn: 'gauss-newton',
  'gauss-newton': 'gauss-newton',
  fisher: 'fisher',
  ef: 'empirical-fisher',
  'empirical-fisher': 'empirical-fisher',
  kfac: 'kfac',
};
const SYMBOLS: Record<OperatorKind | 'kfac', string> = { hessian: 'H', 'gauss-newton': 'G', fisher: 'F', 'empirical-fisher': 'E', kfac: 'K-FAC' };

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
  positiveInteger('fisher-samples', f.fisherSamples);
  positiveInteger('trace-products', f.traceProducts);
  if (f.traceProducts !== undefined && f.traceProducts < 3) throw new UsageError(`--trace-products must be at least 3, got ${f.traceProducts}`);
  if (f.seed !== undefined && !Number.isInteger(f.seed)) throw new UsageError(`--seed must be an integer, got ${f.seed}`);
  const kind = OPERATORS[f.operator ?? 'hessian'];
  if (!Object.prototype.hasOwnProperty.call(OPERATORS, f.operator ?? 'hessian')) {
    throw new UsageError(`--operator must be hessian, ggn (gauss-newton), fisher, ef (empirical-fisher) or kfac, got '${f.operator}'`);
  }
  if (f.mode !== undefined && f.mode !== 'train' && f.mode !== 'eval') throw new UsageError(`--mode must be train or eval, got '${f.mode}'`);
  if (f.traceMethod !== undefined && f.traceMethod !== 'hutchinson' && f.traceMethod !== 'hutch++') throw new UsageError(`--trace-method must be hutchinson or hutch++, got '${f.traceMethod}'`);
  const mode = (f.mode ?? 'train') as 'train' | 'eval';
  if (kind === 'kfac' && mode === 'eval') throw new UsageError('--operator kfac: K-FAC\'s factors are taken in training mode only; drop --mode eval');
  if (kind === 'kfac' && f.diagonal) throw new UsageError('--operator kfac --diagonal: not computed; the exact diagonal of the GGN it approximates is --operator ggn --diagonal');
  const { file, ckpt } = loadRunCheckpoint(f.run);
  const config = { ...ckpt.config };
  if (f.backend !== undefined) config.backend = f.backend;
  if (f.dataDir !== undefined) config.dataDir = f.dataDir;
  const backend = await openBackend(config.backend, f);
  const train = loadData(config).train;
  const available = train.labels.length;
  if (f.samples !== undefined && f.samples > available) {
    throw new UsageError(`--samples ${f.samples}: the run's training set holds only ${available} examples`);
  }
  const net = fromConfig(file, () => buildNetwork(config, backend));
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
  const data: Batch = { x, y, n };
  const op = kind === 'kfac' ? kroneckerOperator(net, data, { kind: 'ggn', batchSize }) : new CurvatureOperator(net, data, { operator: kind, batchSize, mode, samples: f.fisherSamples, seed: seed + 4 });
  const k = f.top ?? 1;
  if (k > op.dim) throw new UsageError(`--top ${k}: the network has only ${op.dim} parameters`);
  const tol = f.tol ?? 1e-4;
  const bar = new Progress({ bar: io.tty && !f.quiet, write: io.err });
  const started = performance.now();
  const name = SYMBOLS[kind];
  bar.line(`${file}: ${config.experiment} ${config.dataset}, step ${ckpt.progress.step}; ${name} of ${net.paramCount} parameters on ${n} training samples (batches of ${batchSize}, ${mode} mode)`);

  // The analysis' *Async forms: every product awaited on WebGPU, answered at once elsewhere.
  const eig = async (o: SymmetricOperator, label: string, kk: number) => {
    const maxSteps = Math.min(o.dim, Math.max(100, 10 * kk));
    bar.startTask(label, maxSteps, 'λ₁');
    const r = await topEigenpairsAsync(o, { k: kk, tol, maxSteps, seed: seed + 1, onStep: (_, top) => bar.tick(top) });
    bar.line(`${label}: ${r.values.map((v) => v.toPrecision(6)).join(', ')} (${r.steps} Lanczos steps, ${r.converged.filter(Boolean).length}/${r.values.length} converged to ${tol})`);
    return { values: r.values, residuals: r.residuals, converged: r.converged, steps: r.steps };
  };
  const traceOf = async (o: SymmetricOperator, label: string) => {
    if (f.traceMethod === 'hutch++') {
      const t = hutchPlusPlus(o, { products: f.traceProducts ?? 99, seed: seed + 2 });
      bar.line(`${label}: ${t.trace.toPrecision(6)} (Hutch++, ${t.products} products; the residual part ± ${t.residualStdError.toPrecision(3)})`);
      return { trace: t.trace, stdError: t.residualStdError, probes: t.products, method: 'hutch++' };
    }
    const maxProbes = 500;
    bar.startTask(label, maxProbes, 'trace');
    const t = await hutchinsonTraceAsync(o, { maxProbes, relativeStdError: f.traceSe ?? 0.05, seed: seed + 2, onProbe: (_, tr) => bar.tick(tr) });
    bar.line(`${label}: ${t.trace.toPrecision(6)} ± ${t.stdError.toPrecision(3)} (${t.probes} probes)`);
    return { trace: t.trace, stdError: t.stdError, probes: t.probes };
  };

  const top = await eig(op, `top ${k} eigenvalue${k > 1 ? 's' : ''} of ${name}`, k);
  const trace = f.trace ? await traceOf(op, `trace of ${name}`) : undefined;
  let density;
  if (f.density) {
    const probes = f.probes ?? 10;
    bar.startTask(`density of ${name}`, probes, 'probe');
    density = await spectralDensityAsync(op, { probes, seed: seed + 3, onProbe: (p) => bar.tick(p) });
    bar.line(`density of ${name}: ${probes} probes × ${density.ritz[0].values.length} Lanczos steps, σ = ${density.sigma.toPrecision(3)}`);
  }
  const layers = (await perBlockAsync(op, parameterBlocks(net), async (sub, b) => ({
    top: await eig(sub, `${b.name} (${b.size} parameters) top`, Math.min(k, sub.dim)),
    trace: f.trace ? await traceOf(sub, `${b.name} trace`) : undefined,
  }))).map(({ block, result }) => ({ ...block, ...result }));

  const blocks = parameterBlocks(net);
  let diagonal: ReturnType<typeof summarise> & { method: string } | undefined;
  let diagonalVector: Float64Array | undefined;
  if (f.diagonal && kind !== 'kfac') { // (--diagonal with kfac is refused above)
    bar.line(`diagonal of ${name}…`);
    const d = diagonalOf(net, op, kind, data, batchSize, mode, f.fisherSamples ?? 1, seed);
    diagonalVector = d.values;
    diagonal = { method: d.method, ...summarise(d.values, blocks) };
    bar.line(`diagonal of ${name} (${d.method}): sum ${diagonal.sum.toPrecision(6)}`);
  }
  let variance;
  let varianceVector: Float64Array | undefined;
  if (f.variance) {
    const v = sampleStatistics(net, data, batchSize, mode);
    varianceVector = v.variance;
    variance = { ...v.summary, layers: blocks.map((b) => ({ name: b.name, ...v.block(b.offset, b.size) })) };
    bar.line(`per-sample gradients: ‖∇L‖² ${variance.gradientNorm2.toPrecision(6)}, tr Cov(∇ℓ_n) ${variance.covarianceTrace.toPrecision(6)}, mean ‖∇ℓ_n‖² ${variance.meanSampleNorm2.toPrecision(6)}`);
  }

  const seconds = (performance.now() - started) / 1000;
  const out = resolve(f.out ?? join(resolve(file, '..'), 'hessian'));
  mkdirSync(out, { recursive: true });
  const result = {
    checkpoint: file,
    step: ckpt.progress.step,
    operator: kind,
    mode,
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
    diagonal,
    variance,
  };
  writeFileAtomic(join(out, 'hessian.json'), `${JSON.stringify(result, null, 1)}\n`);
  if (diagonalVector) writeFileAtomic(join(out, 'diagonal.npy'), encodeNpy({ shape: [diagonalVector.length], data: diagonalVector }));
  if (varianceVector) writeFileAtomic(join(out, 'variance.npy'), encodeNpy({ shape: [varianceVector.length], data: varianceVector }));
  const title = `${config.experiment} ${config.dataset} step ${ckpt.progress.step}: ${name} on ${n} samples`;
  const perLayer: Series[] = layers.map((l, i) => ({ name: l.name, colour: COLOURS[i % COLOURS.length], scatter: true, points: l.top.values.map((v): [number, number] => [i + 1, v]) }));
  writeFileAtomic(join(out, 'layers.svg'), renderPanels([{ title: `top ${k} eigenvalue(s) per layer`, series: perLayer, logY: false, xLabel: 'layer (in order, see legend)' }], title));
  if (density) {
    const points = density.grid.map((g, i): [number, number] => [g, density.density[i]]);
    writeFileAtomic(join(out, 'density.svg'), renderPanels([{ title: `spectral density (SLQ, log scale)`, series: [{ name: 'density', colour: '#1f77b4', points }], logY: true, xLabel: 'eigenvalue' }], title));
  }
  io.out(`${op.products} products in ${clock(seconds)}; results in ${out}\n`);
}

type Block = { name: string; offset: number; size: number };

/** The sum, mean and largest entry of a vector, in all and per layer. */
function summarise(v: Float64Array, blocks: readonly Block[]) {
  const stats = (a: Float64Array) => ({ sum: a.reduce((s, x) => s + x, 0), mean: a.reduce((s, x) => s + x, 0) / a.length, max: a.reduce((m, x) => Math.max(m, x), -Infinity) });
  return { ...stats(v), layers: blocks.map((b) => ({ name: b.name, ...stats(v.subarray(b.offset, b.offset + b.size)) })) };
}

/** The batches of `data`, each with its weight n_b / N in the mean over the data set. */
function batchesOf(data: Batch, batchSize: number): { batch: Batch; weight: number }[] {
  const out = [];
  for (let s = 0; s < data.n; s += batchSize) {
    const e = Math.min(data.n, s + batchSize);
    out.push({ batch: sliceBatch(data, s, e), weight: (e - s) / data.n });
  }
  return out;
}

/**
 * The operator's diagonal over the data set, Σ_b (n_b/N)·diag A_b: exact for the GGN and the
 * empirical Fisher, and for H where the network allows it; for the Fisher the diagonal
 * of the operator's own sampled draw (the same targets); else Hutchinson's estimate.
 */
function diagonalOf(net: Network, op: SymmetricOperator, kind: OperatorKind, data: Batch, batchSize: number, mode: 'train' | 'eval', samples: number, seed: number): { values: Float64Array; method: string } {
  const exact = { hessian: { of: 'hessian' }, 'gauss-newton': { of: 'ggn' }, fisher: { of: 'ggn', estimate: 'mc', samples, seed: seed + 4 }, 'empirical-fisher': { of: 'empirical-fisher' } } as const;
  const values = new Float64Array(net.paramCount);
  try {
    for (const { batch, weight } of batchesOf(data, batchSize)) {
      const d = net.curvatureDiagonal(batch, { mode, ...exact[kind] });
      for (let i = 0; i < values.length; i++) values[i] += weight * d[i];
    }
    return { values, method: kind === 'fisher' ? 'exact, of the operator\'s sampled targets' : 'exact' };
  } catch (e) {
    // The exact diagonal is undefined or out of reach here (H with smooth activations, batch norm in training mode).
    const est = hutchinsonDiagonal(op, { probes: 100, seed: seed + 5 });
    return { values: est.diagonal, method: `Hutchinson, 100 probes (no exact diagonal: ${(e as Error).message})` };
  }
}

/**
 * The per-sample gradients of the mean loss over the data set, g_n = ∇ℓ_n / N, batch by batch:
 * Σ g_n and Σ g_n² add up over batches (each batch's g_n are of its own mean, n_b/N times
 * these), so the variance (1/N)Σ g_n² − ((1/N)Σ g_n)² is of the whole set. Reported on the scale
 * of ∇ℓ_n: tr Cov(∇ℓ_n) = N² Σ variance, beside ‖∇L‖² and the mean ‖∇ℓ_n‖².
 */
function sampleStatistics(net: Network, data: Batch, batchSize: number, mode: 'train' | 'eval') {
  const N = data.n;
  const P = net.paramCount;
  const sum = new Float64Array(P);
  const second = new Float64Array(P);
  let norms = 0;
  for (const { batch, weight } of batchesOf(data, batchSize)) {
    const q = net.perSample(batch, { mode });
    for (let i = 0; i < P; i++) {
      sum[i] += weight * q.gradient[i];
      second[i] += weight * weight * q.secondMoment![i];
    }
    norms += weight * weight * q.norms!.total.reduce((a, b) => a + b, 0);
  }
  const variance = second.map((s, i) => s / N - (sum[i] / N) ** 2);
  const block = (offset: number, size: number) => {
    const [g, v] = [sum.subarray(offset, offset + size), variance.subarray(offset, offset + size)];
    return { gradientNorm2: g.reduce((a, x) => a + x * x, 0), covarianceTrace: N * N * v.reduce((a, x) => a + x, 0) };
  };
  return { variance, block, summary: { ...block(0, P), meanSampleNorm2: (N * N * norms) / N } };
}
