/**
 * `npm run bench`: ndcnn against its peers on W1–W5, the curvature bench, ndcnn and PyTorch at
 * one thread and at all cores, W4's peak memory at each thread count, the per-sample and
 * diagonal curvature quantities' cost against one gradient (bench/curvature-cost.ts), and the
 * browser page in headless Chromium (bench/browser.ts: the page's CPU step, WebGPU, gpu.js, TF.js's WebGPU).
 * Each part runs in a child process whose environment drops OPENBLAS_CORETYPE and
 * OPENBLAS_L2_SIZE (this machine sets them, which forces OpenBLAS's slower Haswell kernel);
 * tests and CI keep them. Prints tables and writes bench/results/<time>.json.
 *   --no-peers   ndcnn only (no naive floor, TF.js, PyTorch)
 *   --out FILE   where to write the JSON
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { browserTables, type BrowserResult } from './browser.js';
import { profileTable } from './prof-summary.js';
import { report, type Results } from './report.js';
import { CONV_WORKLOADS, LENET } from './workloads.js';

const args = process.argv.slice(2);
const peers = !args.includes('--no-peers');
const outIndex = args.indexOf('--out');
const stamp = new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19);
const outFile = outIndex >= 0 ? args[outIndex + 1] : `bench/results/${stamp}.json`;

const env = { ...process.env };
const unset = ['OPENBLAS_CORETYPE', 'OPENBLAS_L2_SIZE'].filter((k) => k in env);
for (const k of unset) delete env[k];
const notes: string[] = [];
if (unset.length > 0) notes.push(`unset ${unset.map((k) => `${k}=${process.env[k]}`).join(', ')} for the bench's own processes`);

function child(script: string, childArgs: string[], extraEnv: Record<string, string> = {}): string {
  const r = spawnSync(process.execPath, ['--import', 'tsx', script, ...childArgs], {
    env: { ...env, ...extraEnv }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 64 << 20,
  });
  if (r.status !== 0) throw new Error(`${script} exited with ${r.status ?? r.signal}`);
  return r.stdout;
}

/** The first python3 that imports torch (Debian's python3-torch lives under /usr/bin/python3). */
function torchPython(): string | undefined {
  for (const py of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(py, ['-c', 'import torch'], { env, stdio: 'ignore' });
    if (r.status === 0) return py;
  }
  return undefined;
}

console.log(`ndcnn bench: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, node ${process.version}`);
for (const n of notes) console.log(`note: ${n}`);

const cores = availableParallelism();
const counts = cores > 1 ? [1, cores] : [1];

console.log('\n[1/7] ndcnn, naive JS and TF.js (child process)');
const js = JSON.parse(child('bench/suite.ts', peers ? [] : ['--no-peers']));

console.log('\n[2/7] ndcnn on its fallback GEMMs (NDCNN_GEMM=wasm, then js; the JS im2col runs with both)');
for (const gemm of ['wasm', 'js']) {
  const fb = JSON.parse(child('bench/suite.ts', ['--fallback'], { NDCNN_GEMM: gemm }));
  js.conv.push(...fb.conv);
  js.train.push(...fb.train);
}

const torchRuns: NonNullable<Results['torch']>[] = [];
if (peers) {
  const py = torchPython();
  if (py) {
    for (const t of counts) {
      console.log(`\n[3/7] PyTorch at ${t} thread(s) (${py} bench/torch_bench.py)`);
      const spec = JSON.stringify({ conv: CONV_WORKLOADS, lenet: LENET });
      const r = spawnSync(py, ['bench/torch_bench.py', spec, String(t)], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
      if (r.status === 0) torchRuns.push(JSON.parse(r.stdout));
      else notes.push(`PyTorch bench at ${t} thread(s) failed (exit ${r.status})`);
    }
  } else {
    notes.push('PyTorch skipped: no python3 here imports torch (Debian: apt-get install python3-torch)');
  }
}
notes.push('TF.js tfjs-node left out: its install downloads a prebuilt libtensorflow, which cannot be fetched here');

console.log(`\n[4/7] ndcnn at ${counts.join(' and ')} thread(s): W4, W5 and an HF step (child process)`);
const threads = JSON.parse(child('bench/threads.ts', counts.map(String)));

console.log('\n[5/7] peak RSS of 200 W4 training steps at each thread count (a child process each)');
const memory = counts.map((t) => JSON.parse(child('bench/memory-child.ts', ['200', String(t)])));

console.log(`\n[6/7] CPU profile of 300 W4 steps at ${counts.join(' and ')} thread(s) (the calling thread's)`);
const profiles = counts.map((t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ndcnn-prof-'));
  try {
    const r = spawnSync(process.execPath, ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--import', 'tsx', 'bench/profile-w4.ts', '300', String(t)], {
      env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (r.status !== 0) throw new Error(`bench/profile-w4.ts exited with ${r.status ?? r.signal}`);
    // Node names each thread's profile CPU.<date>.<time>.<pid>.<thread id>.<seq>: the calling thread is 0.
    const main = readdirSync(dir).find((f) => f.split('.')[4] === '0');
    if (!main) throw new Error(`no profile of the calling thread in ${dir}`);
    return { threads: t, line: r.stdout.trim(), table: profileTable(join(dir, main), 10) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

console.log('\n[7/8] per-sample and diagonal curvature against one gradient (bench/curvature-cost.ts, child process)');
const curvatureFile = join(mkdtempSync(join(tmpdir(), 'ndcnn-curvature-')), 'cost.json');
const curvatureTable = child('bench/curvature-cost.ts', ['--out', curvatureFile, ...(peers ? [] : ['--no-torch'])]);
const curvature = JSON.parse(readFileSync(curvatureFile, 'utf8'));
rmSync(dirname(curvatureFile), { recursive: true, force: true });
console.log('\n[8/8] the browser page in headless Chromium (bench/browser.ts; SwiftShader: software, says nothing about a GPU)');
const browser = JSON.parse(child('bench/browser.ts', ['--json'])) as BrowserResult;

const results: Results = {
  date: new Date().toISOString(), cpu: cpus()[0]?.model ?? '', cores: cpus().length, node: process.version, notes, ...js,
  torch: torchRuns.find((t) => t.threads === 1), torchThreads: torchRuns, threads, memory, profiles, browser,
};
console.log('\n' + report(results));
console.log(`\n### Curvature quantities (ms; × one gradient on the same batch)\n\n${curvatureTable.trim()}`);
console.log(`\nThe browser page (headless Chromium): ${'skipped' in browser ? `skipped: ${browser.skipped}` : `\n${browserTables(browser)}`}`);
mkdirSync(dirname(outFile), { recursive: true });
writeFileSync(outFile, JSON.stringify({ ...results, curvature }, null, 2) + '\n');
console.log(`\nresults: ${outFile}`);
