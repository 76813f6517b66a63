/**
 * The JS side of the bench, run by bench/run.ts in a child process (so that OpenBLAS starts
 * with the environment run.ts chose). Progress goes to stderr; the results, one JSON object,
 * to stdout. `--no-peers` runs only ndcnn. `--fallback` runs only ndcnn's W1–W4 and labels
 * them with the GEMM in use, for runs under NDCNN_GEMM=wasm or js.
 */
import { gemmInfo } from '../src/nd/backends/cpu/gemm-select.js';
import { convSuite } from './conv-suite.js';
import { gemmSuite } from './gemm.js';
import { trainSuite, w4Ndcnn } from './train-suite.js';

const peers = !process.argv.includes('--no-peers');
const log = (s: string) => process.stderr.write(`  ${s}\n`);

if (process.argv.includes('--fallback')) {
  const engine = `ndcnn/${gemmInfo().impl}`;
  const conv = (await convSuite(log, false)).map((c) => ({ ...c, engine }));
  process.stdout.write(JSON.stringify({ conv, train: [w4Ndcnn(log, engine)] }) + '\n');
  process.exit(0);
}

const gemm = gemmSuite(log);
const conv = await convSuite(log, peers);
const { train, curvature } = await trainSuite(log, peers);
process.stdout.write(JSON.stringify({ gemmInfo: gemmInfo(), gemm, conv, train, curvature }) + '\n');
