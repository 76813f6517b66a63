/**
 * The library core is a stack (../shared/DESIGN.md, README "Design"): every relative import in
 * src/ is resolved to the folder it lands in, and the folders below may import only what their
 * line names (themselves always). `nd/backends` counts apart from `nd`: only what sits above the
 * layers may name a concrete backend.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../src', import.meta.url));

const ALLOWED: Record<string, string[]> = {
  nd: [],
  layers: ['nd'],
  optim: ['nd', 'analysis'],
  analysis: ['nd'],
  parallel: ['layers', 'nd', 'nd/backends'],
  network: ['layers', 'parallel', 'nd'],
};

/** `nd/backends` for anything under src/nd/backends, else the first folder under src/. */
function area(file: string): string {
  const parts = relative(SRC, file).split('/');
  return parts[0] === 'nd' && parts[1] === 'backends' ? 'nd/backends' : parts.length > 1 ? parts[0] : '.';
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Area → the other areas its files import from. */
function imports(): Map<string, Set<string>> {
  const graph = new Map<string, Set<string>>();
  for (const file of sources(SRC)) {
    const from = area(file);
    const to = graph.get(from) ?? new Set<string>();
    graph.set(from, to);
    for (const m of readFileSync(file, 'utf8').matchAll(/(?:from|import\(?)\s*'(\.[^']+)'/g)) {
      const target = area(resolve(dirname(file), m[1]));
      if (target !== from) to.add(target);
    }
  }
  return graph;
}

describe('the import stack of src/', () => {
  const graph = imports();

  it.each(Object.keys(ALLOWED))('%s imports only what DESIGN.md allows it', (name) => {
    expect(graph.has(name)).toBe(true);
    const extra = [...graph.get(name)!].filter((t) => !ALLOWED[name].includes(t));
    expect(extra).toEqual([]);
  });

  it('has no circle between folders', () => {
    const state = new Map<string, 'open' | 'done'>();
    const circle: string[] = [];
    const visit = (a: string, path: string[]): void => {
      if (state.get(a) === 'done' || circle.length) return;
      if (state.get(a) === 'open') {
        circle.push(...path.slice(path.indexOf(a)), a);
        return;
      }
      state.set(a, 'open');
      for (const b of graph.get(a) ?? []) visit(b, [...path, a]);
      state.set(a, 'done');
    };
    for (const a of graph.keys()) visit(a, []);
    expect(circle.join(' → ')).toBe('');
  });
});
