/**
 * The `ndcnn` command line (yargs): train, eval, export, hessian, fetch, info, sweep, worker. Every failure ends as
 * ONE line on stderr and a non-zero exit (errors.ts); unknown flags are errors (.strict()). The
 * train flags live in flags.ts (shared with `ndcnn sweep`). Every flag that takes a value demands
 * one (requiresArg): yargs would otherwise read a trailing `--epochs` as "not given".
 */
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { evalRun, fetchCommand, info } from './commands.js';
import { checkInteger } from './config.js';
import { reportError, UsageError } from './errors.js';
import { exportRun } from './export.js';
import { hessian, type HessianFlags } from './hessian.js';
import { GPU_FLAGS, TRAIN_FLAGS } from './flags.js';
import { DEFAULT_EXPERIMENT, experiments } from './registry.js';
import { reportCommand, sweepCommand, type SweepFlags } from './sweep/command.js';
import { MAX_POINTS } from './sweep/spec.js';
import { runWorker } from './sweep/worker.js';
import type { TrainFlags } from './resolve.js';
import { processIo, train, type Io } from './train.js';

const EXIT_INTERRUPTED = 130;

function trainOptions(y: Argv) {
  let out = y.positional('experiment', { type: 'string', describe: `${Object.keys(experiments).join(' | ')} (default ${DEFAULT_EXPERIMENT})` });
  for (const [name, spec] of Object.entries(TRAIN_FLAGS)) out = out.option(name, spec);
  return out;
}

function sweepOptions(y: Argv) {
  return y
    .positional('spec', { type: 'string', demandOption: true, describe: 'sweep spec (.json, .yaml) or a sweep directory to resume' })
    .option('out', { type: 'string', requiresArg: true, describe: 'sweep directory (default sweeps/<name>-<time>)' })
    .option('workers', { type: 'number', requiresArg: true, describe: 'local pool: training processes at once (default: the cores)' })
    .option('queue', { type: 'string', requiresArg: true, describe: 'put the points on the BullMQ queue at redis://HOST:PORT instead' })
    .option('attempts', { type: 'number', requiresArg: true, describe: 'with --queue: tries per point before it fails (default 3)' })
    .option('quiet', { type: 'boolean', describe: 'one line per event instead of a live status line' })
    .option('max-points', { type: 'number', requiresArg: true, describe: `refuse specs that expand to more points (default ${MAX_POINTS})` });
}

function workerOptions(y: Argv) {
  return y
    .option('queue', { type: 'string', demandOption: true, requiresArg: true, describe: 'redis://HOST:PORT of the sweep queue' })
    .option('store', { type: 'string', requiresArg: true, describe: 'keep run directories here; shared storage lets a retried point resume' })
    .option('concurrency', { type: 'number', requiresArg: true, describe: 'points trained at once (default 1)' })
    .option('stall-seconds', { type: 'number', requiresArg: true, describe: 'how soon a dead worker\'s point is taken over (default 30)' });
}

/** Runs `work` with an AbortSignal that the first Ctrl-C aborts (a second one exits at once). */
async function withInterrupt<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(EXIT_INTERRUPTED);
    controller.abort();
  };
  process.on('SIGINT', onSigint);
  process.on('SIGTERM', onSigint);
  try {
    return await work(controller.signal);
  } finally {
    process.off('SIGINT', onSigint);
    process.off('SIGTERM', onSigint);
  }
}

/** yargs' "Not enough arguments following: epochs" as "--epochs needs a value". */
function usage(message: string): string {
  const m = /^Not enough arguments following: (\S+)$/.exec(message);
  return m ? `--${m[1]} needs a value` : message;
}

/** Runs the CLI on `argv` (without node and script); returns the exit status. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  let status = 0;
  const controller = new AbortController();
  const onSigint = () => {
    if (controller.signal.aborted) process.exit(EXIT_INTERRUPTED);
    controller.abort();
  };
  try {
    await yargs(argv)
      .scriptName('ndcnn')
      .usage('$0 <command> [options]')
      .command(
        'train [experiment]',
        'train an experiment\'s network, writing config, metrics, plot and checkpoints to --out',
        (y) => trainOptions(y),
        async (a) => {
          process.on('SIGINT', onSigint);
          try {
            const summary = await train(a as unknown as TrainFlags, io, controller.signal);
            if (summary.stopped && controller.signal.aborted) status = EXIT_INTERRUPTED;
          } finally {
            process.off('SIGINT', onSigint);
          }
        },
      )
      .command(
        'eval <run>',
        'score a run directory\'s (or a checkpoint file\'s) network on its held-out sets',
        (y) =>
          y
            .positional('run', { type: 'string', demandOption: true, describe: 'run directory or checkpoint file' })
            .option('backend', { type: 'string', requiresArg: true, describe: 'compute backend (default: the run\'s)' })
            .options(GPU_FLAGS)
            .option('data-dir', { type: 'string', requiresArg: true, describe: 'directory holding the data set folder' }),
        (a) => evalRun({ path: a.run as string, backend: a.backend, dataDir: a.dataDir, gpuMode: a.gpuMode, allowFallback: a.allowFallback }, io),
      )
      .command(
        'export <run>',
        'write a run directory\'s (or a checkpoint file\'s) network as safetensors, ONNX or .npz',
        (y) =>
          y
            .positional('run', { type: 'string', demandOption: true, describe: 'run directory or checkpoint file' })
            .option('format', { type: 'string', demandOption: true, requiresArg: true, describe: 'safetensors | onnx | npz' })
            .option('out', { type: 'string', requiresArg: true, describe: 'output file (default RUN/model.<format extension>)' })
            .option('softmax', { type: 'boolean', describe: 'onnx: end the graph with Softmax (probabilities, not logits)' }),
        (a) => exportRun({ run: a.run as string, format: a.format as string, out: a.out, softmax: a.softmax }, io),
      )
      .command(
        'hessian <run>',
        'curvature of a run\'s training loss at its checkpoint: top eigenvalues, trace, spectral density, per layer',
        (y) =>
          y
            .positional('run', { type: 'string', demandOption: true, describe: 'run directory or checkpoint file' })
            .option('top', { type: 'number', requiresArg: true, describe: 'how many of the largest eigenvalues (default 1)' })
            .option('trace', { type: 'boolean', describe: 'estimate the trace (Hutchinson, Rademacher probes)' })
            .option('trace-se', { type: 'number', requiresArg: true, describe: 'stop the trace at this relative standard error (default 0.05)' })
            .option('density', { type: 'boolean', describe: 'spectral density by stochastic Lanczos quadrature' })
            .option('probes', { type: 'number', requiresArg: true, describe: 'random probes of the density (default 10)' })
            .option('samples', { type: 'number', requiresArg: true, describe: 'training samples the loss is taken over (default 1000 or all)' })
            .option('operator', { type: 'string', requiresArg: true, describe: 'hessian | ggn | fisher | ef (empirical Fisher) | kfac (K-FAC\'s exact type-2 factors; default hessian)' })
            .option('mode', { type: 'string', requiresArg: true, describe: 'train (batch statistics, dropout; default) | eval (running statistics, no dropout)' })
            .option('fisher-samples', { type: 'number', requiresArg: true, describe: 'fisher: sampled targets per sample (default 1)' })
            .option('trace-method', { type: 'string', requiresArg: true, describe: 'hutchinson (default) | hutch++' })
            .option('trace-products', { type: 'number', requiresArg: true, describe: 'hutch++: operator products (default 99)' })
            .option('diagonal', { type: 'boolean', describe: 'the operator\'s diagonal (exact where the layers allow, else Hutchinson), per layer and as diagonal.npy' })
            .option('variance', { type: 'boolean', describe: 'per-sample gradient norms and variance, per layer and as variance.npy' })
            .option('batch-size', { type: 'number', requiresArg: true, describe: 'samples per product batch (default 250)' })
            .option('tol', { type: 'number', requiresArg: true, describe: 'relative residual tolerance of the eigenpairs (default 1e-4)' })
            .option('seed', { type: 'number', requiresArg: true, describe: 'seed of the sample subset and the probes (default 1)' })
            .option('out', { type: 'string', requiresArg: true, describe: 'output directory (default RUN/hessian)' })
            .option('backend', { type: 'string', requiresArg: true, describe: 'compute backend (default: the run\'s)' })
            .options(GPU_FLAGS)
            .option('data-dir', { type: 'string', requiresArg: true, describe: 'directory holding the data set folder' })
            .option('quiet', { type: 'boolean', describe: 'no progress bar' }),
        (a) => hessian({ ...(a as unknown as HessianFlags), run: a.run as string }, io),
      )
      .command(
        'fetch <dataset>',
        'download a data set from its official source and verify it',
        (y) =>
          y
            .positional('dataset', { type: 'string', demandOption: true, describe: 'fsdd | fashion-mnist | mri' })
            .option('dir', { type: 'string', requiresArg: true, describe: 'cache root (default $NDCNN_CACHE or ~/.cache/ndcnn)' }),
        (a) => fetchCommand(a.dataset as string, a.dir, io),
      )
      .command('info', 'versions, backends, the CPU GEMM and the gpu.js modes available', (y) => y, () => info(io))
      .command('sweep', 'run a sweep spec\'s points (local pool or queue), or report on a sweep directory', (y) =>
        y
          .command('report <dir>', 'table (mean ± std over seeds) and SVG plots of a sweep directory', (r) =>
            r.positional('dir', { type: 'string', demandOption: true, describe: 'sweep directory' }),
            (a) => reportCommand(a.dir as string, io),
          )
          .command('$0 <spec>', 'run every point of SPEC (JSON or YAML), or resume a sweep directory', (r) => sweepOptions(r), async (a) => {
            status = await withInterrupt((signal) => sweepCommand(a as unknown as SweepFlags, io, signal));
          }),
      )
      .command('worker', 'take sweep points from a BullMQ queue and train them', (y) => workerOptions(y), async (a) => {
        checkInteger('concurrency', a.concurrency, 1);
        checkInteger('stall-seconds', a.stallSeconds, 1);
        await withInterrupt((signal) =>
          runWorker({ url: a.queue as string, store: a.store, concurrency: a.concurrency ?? 1, stallSeconds: a.stallSeconds ?? 30 }, io, signal),
        );
      })
      .demandCommand(1, 'name a command: train, eval, export, hessian, fetch, info, sweep or worker')
      .strict()
      .help()
      .version(false)
      .showHelpOnFail(false)
      .wrap(Math.min(110, process.stdout.columns || 80))
      .fail((msg, err) => {
        // yargs' own complaints (YError) are usage errors; anything else came from a command.
        if (err && err.name !== 'YError') throw err;
        throw new UsageError(`${usage((msg ?? err.message).split('\n')[0])} (see ndcnn --help)`);
      })
      .parseAsync();
  } catch (e) {
    return reportError(e, io.err);
  }
  return status;
}

const entry = process.argv[1] ?? '';
// Run when executed directly (tsx experiments/cli.ts); bin.ts imports it and calls main itself.
if (/experiments[\\/]cli\.ts$/.test(entry)) {
  main(hideBin(process.argv)).then((status) => {
    process.exitCode = status;
  });
}
