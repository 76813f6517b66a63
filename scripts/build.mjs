// `npm run build`: compiles src/, datasets/ and experiments/ into dist/ (ESM .js, .d.ts, source
// maps) and copies beside them the files the compiled code reads at run time, at the same
// relative places as in the repository: the wasm GEMM and the FSDD manifest. (The declarations
// of untyped dependencies in src/types are not shipped: no emitted .d.ts imports those modules,
// which scripts/check-pack.sh verifies by type-checking a consumer without skipLibCheck.)
import { execFileSync } from 'node:child_process';
import { chmodSync, cpSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
rmSync(dist, { recursive: true, force: true }); // no stale output of a removed source file
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
execFileSync(process.execPath, [tsc, '-p', join(root, 'tsconfig.build.json')], { stdio: 'inherit' });
for (const file of ['asm/build/gemm.wasm', 'datasets/fsdd.sha256']) {
  cpSync(join(root, file), join(dist, file));
}
chmodSync(join(dist, 'experiments', 'bin.js'), 0o755);
console.log('build: dist/ written');
