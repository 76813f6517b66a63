/**
 * Builds the browser pages into browser/dist: the demo (demo.ts → demo.js, and digits.bin, its
 * MNIST digits, see digits.ts) and the backend check (check.ts → check.js), bundled by esbuild. gpu.js resolves to its
 * browser build through its package.json "browser" field. The CPU backend's optional Node-only
 * GEMMs (the OpenBLAS addon, the wasm file read from disk) import node:module and node:fs, and its
 * threads node:worker_threads, node:path and node:url: here those become modules that throw when used (a page runs one thread), so the GEMM selection falls back to plain JS in
 * the page, as it would on a Node without the addon.
 */
import { build, type Plugin } from 'esbuild';
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { writeDigits } from './digits.js';

const here = fileURLToPath(new URL('.', import.meta.url));

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
    entryPoints: [`${here}demo.ts`, `${here}check.ts`],
    outdir,
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    // gpu.js reads kernel bodies back from their source text: keep it readable (no minify, no renaming).
    minify: false,
    define: { 'process.env.NDCNN_GEMM': 'undefined' },
    plugins: [nodeOnly],
    logLevel: 'warning',
  });
  return outdir;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  buildBrowser().then((f) => console.log(`wrote ${f}`));
}
