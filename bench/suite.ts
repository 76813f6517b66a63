/**
 * The JS side of the bench, run by bench/run.ts in a child process (so that OpenBLAS starts
 * with the environment run.ts chose). Progress goes to stderr; the results, one JSON object,
 * to stdout. `--no-peers` runs only ndcnn.
 */
import { gemmInfo } from '../src/nd/backends/cpu/gemm-select';
import { convSuite } from './conv-suite';
import { gemmSuite } from './gemm';
import { trainSuite } from './train-suite';

const peers = !process.argv.includes('--no-peers');
const log = (s: string) => process.stderr.write(`  ${s}\n`);

const gemm = gemmSuite(log);
const conv = await convSuite(log, peers);
const { train, curvature } = await trainSuite(log, peers);
process.stdout.write(JSON.stringify({ gemmInfo: gemmInfo(), gemm, conv, train, curvature }) + '\n');
