/** Self time per function of a V8 .cpuprofile (node --cpu-prof), the top entries as a markdown table. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

/** The top `top` functions by self time of a .cpuprofile, as a markdown table. */
export function profileTable(file: string, top = 15): string {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  // Each sample's time is the delta to the next one; attribute it to the sampled (leaf) frame.
  const self = new Map<string, number>();
  let total = 0;
  p.samples.forEach((id, i) => {
    const dt = p.timeDeltas[i + 1] ?? 0;
    const f = byId.get(id)!.callFrame;
    const where = f.url ? `${f.url.replace(/^.*\/(src|bench|node_modules)\//, '$1/')}:${f.lineNumber + 1}` : '';
    const key = `${f.functionName || '(anonymous)'} ${where}`.trim();
    self.set(key, (self.get(key) ?? 0) + dt);
    total += dt;
  });
  const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, top);
  return [`| self % | self ms | function |`, `|---|---|---|`, ...rows.map(([k, t]) => `| ${((100 * t) / total).toFixed(1)} | ${(t / 1000).toFixed(0)} | \`${k}\` |`)].join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) throw new Error('usage: tsx bench/prof-summary.ts FILE.cpuprofile [top]');
  console.log(profileTable(file, Number(process.argv[3] ?? 15)));
}
