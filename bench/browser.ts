/**
 * The browser part of `npm run bench`: builds the pages, serves them on 127.0.0.1 (cross-origin
 * isolated, as `npm run demo`) and runs browser/bench.html in headless Chromium: the demo's CPU
 * step (plain JS on one thread, the wasm kernels on one thread and on 2 Web Workers), WebGPU
 * against gpu.js on the same adapter, and W1–W4 on ndcnn's WebGPU backend against TF.js's.
 * Prints the tables (`--json`: the results as JSON instead, for bench/run.ts); `--out FILE` writes the JSON.
 *   npx tsx bench/browser.ts [--scale small|full] [--adapter swiftshader|hardware] [--parts cpu,gpu,peers] [--chromium PATH] [--out FILE] [--json]
 * `--adapter swiftshader` (the default) is Chromium's software Vulkan: those numbers say how the
 * CPU path scales and nothing about a GPU; `hardware` lets Chromium take the machine's GPU.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { buildBrowser } from '../browser/build.js';
import type { BenchRow, BenchState } from '../browser/bench.js';
import { serveBrowser, urlOf } from '../browser/serve.js';

export type BrowserResult = BenchState | { skipped: string };

export async function browserBench(o: { scale: string; adapter: string; parts: string; executablePath: string; timeoutMs?: number }): Promise<BrowserResult> {
  if (!existsSync(o.executablePath)) return { skipped: `${o.executablePath} not found (Debian package chromium)` };
  await buildBrowser();
  const server = await serveBrowser(0);
  const gpuFlags = o.adapter === 'swiftshader' ? ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-webgpu-adapter=swiftshader'] : ['--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-angle=vulkan', '--ignore-gpu-blocklist'];
  const browser = await chromium.launch({
    executablePath: o.executablePath,
    args: ['--no-sandbox', ...gpuFlags, '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
  });
  try {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${urlOf(server)}bench.html?scale=${o.scale}&parts=${o.parts}`);
    await page.waitForFunction(() => window.ndcnnBench?.done === true, undefined, { timeout: o.timeoutMs ?? 15 * 60_000, polling: 1000 });
    const state = (await page.evaluate(() => window.ndcnnBench)) as BenchState;
    if (errors.length > 0) state.error = [state.error, ...errors].filter(Boolean).join('; ');
    return state;
  } finally {
    await browser.close();
    server.close();
  }
}

/** The tables: the CPU step against plain JS on one thread, WebGPU against gpu.js, ndcnn against TF.js. */
export function browserTables(s: BenchState): string {
  const f = (ms: number | null | undefined) => (ms === null || ms === undefined ? '–' : ms >= 100 ? ms.toFixed(0) : ms.toFixed(1));
  const rows = (part: BenchRow['part']) => s.rows.filter((r) => r.part === part);
  const lines: string[] = [];
  const cpu = rows('cpu');
  if (cpu.length > 0) {
    const base = cpu[0].ms ?? NaN;
    lines.push('| demo step on the CPU backend (page, batch 32) | ms | speed-up over plain JS, 1 thread |', '|---|---:|---:|');
    for (const r of cpu) lines.push(`| ${r.engine} | ${f(r.ms)} | ${r.ms ? (base / r.ms).toFixed(1) : '–'}× |`);
    lines.push('');
  }
  const gpu = rows('gpu');
  if (gpu.length > 0) {
    lines.push(`| demo step on the page's GPU adapter (batch 32) | ms |`, '|---|---:|');
    for (const r of gpu) lines.push(`| ${r.engine} | ${r.ms === null ? r.note : f(r.ms)} |`);
    lines.push('');
  }
  const peers = rows('peers');
  if (peers.length > 0) {
    const what = [...new Set(peers.map((r) => r.what))];
    const at = (w: string, e: string) => peers.find((r) => r.what === w && r.engine === e);
    lines.push(`| workload (${s.scale} sizes) | ndcnn webgpu ms | TF.js webgpu ms | TF.js / ndcnn |`, '|---|---:|---:|---:|');
    for (const w of what) {
      const [n, t] = [at(w, 'ndcnn webgpu'), at(w, 'tfjs webgpu')];
      lines.push(`| ${w} | ${f(n?.ms)} | ${t?.ms === null ? (t.note ?? '–') : f(t?.ms)} | ${n?.ms && t?.ms ? (t.ms / n.ms).toFixed(2) : '–'} |`);
    }
  }
  return `adapter: ${s.adapter}\n\n${lines.join('\n')}`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  const args = process.argv.slice(2);
  const flag = (name: string, fallback: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : fallback;
  };
  const [scale, adapter] = [flag('scale', 'small'), flag('adapter', 'swiftshader')];
  if (!['small', 'full'].includes(scale) || !['swiftshader', 'hardware'].includes(adapter)) {
    console.error('bench/browser.ts: --scale small|full, --adapter swiftshader|hardware');
    process.exit(2);
  }
  const s = await browserBench({ scale, adapter, parts: flag('parts', 'cpu,gpu,peers'), executablePath: flag('chromium', '/usr/bin/chromium') });
  const out = flag('out', '');
  if (args.includes('--json')) process.stdout.write(`${JSON.stringify(s)}\n`);
  else if ('skipped' in s) {
    console.log(`browser bench skipped: ${s.skipped}`);
  } else {
    console.log(browserTables(s));
    if (s.error) console.log(`\nerrors: ${s.error}`);
  }
  if (out) writeFileSync(out, `${JSON.stringify(s, null, 2)}\n`);
}
