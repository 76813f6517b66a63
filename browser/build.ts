/**
 * Builds the browser pages into browser/dist, bundled by esbuild: the demo (demo.ts → demo.js,
 * its CPU worker trainer.js and that worker's threads thread.js, and digits.bin, its MNIST
 * digits, see digits.ts), the backend check (check.ts → check.js) and the browser benchmark
 * (bench.ts). gpu.js resolves to its browser build through its package.json "browser" field.
 * The CPU backend's WebAssembly kernels come in as bytes (wasm.ts), and its threads' pool is the
 * browser's (src/parallel/web-pool.ts, in place of pool.ts). What else is Node-only (the OpenBLAS
 * addon's loader, node:fs and friends) becomes modules that throw when used, so the GEMM choice
 * skips OpenBLAS in a page, as on a Node without the addon.
 */
import { build, type Plugin } from 'esbuild';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { writeDigits } from './digits.js';

const here = fileURLToPath(new URL('.', import.meta.url));

/** The browser's worker pool for src/parallel's (team.ts imports './pool.js'). */
const webPool: Plugin = {
  name: 'web-pool',
  setup(b) {
    b.onResolve({ filter: /^\.\/pool\.js$/ }, (a) => (/[\\/]src[\\/]parallel$/.test(a.resolveDir) ? { path: `${a.resolveDir}/web-pool.ts` } : undefined));
  },
};

const nodeOnly: Plugin = {
  name: 'node-only',
  setup(b) {
    b.onResolve({ filter: /^node:(fs|module|worker_threads|path|url)$/ }, (a) => ({ path: a.path, namespace: 'node-only' }));
    b.onLoad({ filter: /.*/, namespace: 'node-only' }, (a) => ({
      contents: `const no = () => { throw new Error('${a.path} is not available in a browser'); };
        export const readFileSync = no; export const createRequire = no;
        export const Worker = no; export const MessageChannel = no; export const receiveMessageOnPort = no;
        export const dirname = no; export const join = no; export const pathToFileURL = no;`,
      loader: 'js',
    }));
  },
};

/** Writes the bundles and the digits; returns the output folder. */
export async function buildBrowser(): Promise<string> {
  const outdir = `${here}dist`;
  mkdirSync(outdir, { recursive: true });
  writeDigits(`${outdir}/digits.bin`);
  await build({
    entryPoints: ['demo', 'trainer', 'thread', 'check', 'bench'].map((name) => `${here}${name}.ts`),
    outdir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    // gpu.js reads kernel bodies back from their source text: keep it readable (no minify, no renaming).
    minify: false,
    define: { 'process.env.NDCNN_GEMM': 'undefined' },
    loader: { '.wasm': 'binary' },
    plugins: [webPool, nodeOnly],
    logLevel: 'warning',
  });
  return outdir;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  buildBrowser().then((f) => console.log(`wrote ${f}`));
}
