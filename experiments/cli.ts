/**
 * The `ndcnn` command line (yargs): train, eval, fetch, info. Every failure ends as ONE line on
 * stderr and a non-zero exit (errors.ts); unknown flags are errors (.strict()). Flags have no
 * yargs defaults on purpose: the experiment supplies them, and a resumed run must be able to
 * tell a flag the user gave from one they did not. Every flag that takes a value demands one
 * (requiresArg): yargs would otherwise read a trailing `--epochs` as "not given".
 */
import yargs, { type Argv } from 'yargs';
import { hideBin } from 'yargs/helpers';
import { GPU_MODES } from '../src/nd/backends/gpu/index.js';
import { LAMBDA_MAX, LAMBDA_MIN } from '../src/optim/index.js';
import { evalRun, fetchCommand, info } from './commands.js';
import { reportError, UsageError } from './errors.js';
import { DEFAULT_EXPERIMENT, experiments } from './registry.js';
import type { TrainFlags } from './resolve.js';
import { processIo, train, type Io } from './train.js';

const EXIT_INTERRUPTED = 130;

/** The GPU backend's choices (before: only $NDCNN_GPU_MODE), for train and eval. */
const gpuOptions = {
  'gpu-mode': { type: 'string', requiresArg: true, describe: `gpu.js mode to demand (${GPU_MODES.join(' | ')}; default $NDCNN_GPU_MODE, else the best available)` },
  'allow-fallback': { type: 'boolean', describe: 'if the demanded gpu.js mode cannot run, run the best available one (with a warning)' },
} as const;

function trainOptions(y: Argv) {
  return y
    .positional('experiment', { type: 'string', describe: `${Object.keys(experiments).join(' | ')} (default ${DEFAULT_EXPERIMENT})` })
    .option('dataset', { type: 'string', requiresArg: true, describe: 'data set (image2d: mnist | fashion-mnist)' })
    .option('split', { type: 'string', requiresArg: true, describe: 'train/test split (audio1d: random | speakers | official)' })
    .option('backend', { type: 'string', requiresArg: true, describe: 'compute backend, by registered name (default cpu)' })
    .options(gpuOptions)
    .option('optimizer', { type: 'string', requiresArg: true, describe: 'sgd | hf (default sgd)' })
    .option('epochs', { type: 'number', requiresArg: true, describe: 'passes over the training set' })
    .option('batch-size', { type: 'number', requiresArg: true, describe: 'examples per optimizer step' })
    .option('lr', { type: 'number', requiresArg: true, describe: 'SGD peak learning rate (cosine schedule to 0)' })
    .option('damping', { type: 'number', requiresArg: true, describe: `HF initial damping λ₀ in [${LAMBDA_MIN}, ${LAMBDA_MAX}] (default 1)` })
    .option('seed', { type: 'number', requiresArg: true, describe: 'seed of the initial weights and the shuffling (default 1)' })
    .option('split-seed', { type: 'number', requiresArg: true, describe: 'seed of the train/test split (default 1)' })
    .option('data-dir', { type: 'string', requiresArg: true, describe: 'directory holding the data set folder (default $NDCNN_DATA, else ../shared/data, then the fetch cache)' })
    .option('out', { type: 'string', requiresArg: true, describe: 'run directory (default runs/<experiment>-<time>)' })
    .option('overwrite', { type: 'boolean', describe: 'replace the run files of a run already in --out' })
    .option('resume', { type: 'string', requiresArg: true, describe: 'continue the run in this directory (or from this checkpoint)' })
    .option('patch-size', { type: 'number', requiresArg: true, describe: 'mri3d: edge of the cubic patches in voxels (default 16)' })
    .option('shift', { type: 'number', requiresArg: true, describe: 'augmentation: largest random translation per spatial axis (0 = off)' })
    .option('max-train', { type: 'number', requiresArg: true, describe: 'use a seeded subset of this many training examples' })
    .option('max-test', { type: 'number', requiresArg: true, describe: 'use a seeded subset of this many held-out examples' })
    .option('checkpoint-every', { type: 'number', requiresArg: true, describe: 'also checkpoint every N steps (default: after each epoch only)' })
    .option('stop-after', { type: 'number', requiresArg: true, describe: 'stop (resumably) after this many epochs of this invocation' })
    .option('quiet', { type: 'boolean', describe: 'no progress bar; one line per epoch' });
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
            .options(gpuOptions)
            .option('data-dir', { type: 'string', requiresArg: true, describe: 'directory holding the data set folder' }),
        (a) => evalRun({ path: a.run as string, backend: a.backend, dataDir: a.dataDir, gpuMode: a.gpuMode, allowFallback: a.allowFallback }, io),
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
      .demandCommand(1, 'name a command: train, eval, fetch or info')
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
