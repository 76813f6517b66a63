// Type-checks every ```ts block of the READMEs as the user would write it: each block becomes a
// module importing from the package name `ndcnn` (and `ndcnn/datasets`), which tsconfig paths
// map to the sources, under the project's strict NodeNext settings. Errors are reported at the
// README line they come from. Exits non-zero on any error or when no block is found.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const READMES = ['README.md', 'experiments/README.md', 'datasets/README.md'];
const dir = join(root, '.cache', 'readme-check');
rmSync(dir, { recursive: true, force: true });
mkdirSync(dir, { recursive: true });

/** Generated file name → [README, line of the block's first code line]. */
const origin = new Map();
for (const readme of READMES) {
  const lines = readFileSync(join(root, readme), 'utf8').split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (!/^```(ts|typescript)\s*$/.test(lines[i])) continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && !/^```\s*$/.test(lines[end])) end++;
    const code = lines.slice(start, end).join('\n');
    const name = `${readme.replace(/[/.]/g, '_')}_L${start + 1}.ts`;
    // `export {}` makes a block without imports a module too, as every user file here is.
    writeFileSync(join(dir, name), `${code}\nexport {};\n`);
    origin.set(name, [readme, start + 1]);
    i = end;
  }
}
if (origin.size === 0) {
  console.error('check-readme: no ```ts blocks found');
  process.exit(1);
}

const rel = (p) => relative(dir, join(root, p));
writeFileSync(
  join(dir, 'tsconfig.json'),
  JSON.stringify({
    extends: rel('tsconfig.json'),
    compilerOptions: { noEmit: true, noUnusedLocals: false, paths: { ndcnn: [rel('src/index.ts')], 'ndcnn/datasets': [rel('datasets/index.ts')] } },
    include: ['*.ts', `${rel('src/types')}/*.d.ts`],
  }),
);
const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
try {
  execFileSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json'), '--pretty', 'false'], { cwd: dir, encoding: 'utf8' });
} catch (e) {
  // "FILE(LINE,COL): error ..." → "README.md:LINE:COL: error ..." for the generated files.
  const out = String(e.stdout).replace(/^([^\s(]+\.ts)\((\d+),(\d+)\)/gm, (m, file, line, col) => {
    const o = origin.get(file.split('/').pop());
    return o ? `${o[0]}:${o[1] + Number(line) - 1}:${col}` : m;
  });
  console.error(out.trim());
  console.error(`check-readme: FAIL (${origin.size} blocks checked)`);
  process.exit(1);
}
console.log(`check-readme: PASS, ${origin.size} ts block(s) type-check against the sources (${[...origin.values()].map(([f, l]) => `${f}:${l}`).join(', ')})`);
