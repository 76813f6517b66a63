/** Self time per function of a V8 .cpuprofile (node --cpu-prof), the top entries as a markdown table. */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] }

const file = process.argv[2];
if (!file) throw new Error('usage: tsx bench/prof-summary.ts FILE.cpuprofile [top]');
const top = Number(process.argv[3] ?? 15);
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
console.log(`| self % | self ms | function |\n|---|---|---|`);
for (const [k, t] of rows) console.log(`| ${((100 * t) / total).toFixed(1)} | ${(t / 1000).toFixed(0)} | \`${k}\` |`);
