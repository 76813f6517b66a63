/**
 * The WebGPU backend in a real browser, headless Debian Chromium on its SwiftShader WebGPU
 * adapter, pages served from 127.0.0.1: the check page (browser/check.ts, ?backend=webgpu), one
 * forward and one backward pass against the CPU backend; and the demo, which picks WebGPU by
 * itself there, trains on it, then on the CPU from the same weights and batches (screenshot in
 * test-results/browser/demo-webgpu.png). Skipped, with the reason, where Chromium is missing;
 * in CI it must run.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Server } from 'node:http';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBrowser } from '../../browser/build.js';
import type { PageResult } from '../../browser/check.js';
import type { DemoState } from '../../browser/demo.js';
import { serveBrowser, urlOf } from '../../browser/serve.js';

const CHROMIUM = '/usr/bin/chromium';
const missing = existsSync(CHROMIUM) ? null : `${CHROMIUM} not found (Debian package chromium)`;

describe.skipIf(missing !== null && process.env.CI !== 'true')(`browser page on WebGPU${missing ? ` (unavailable here, so skipped outside CI: ${missing})` : ''}`, () => {
  let server: Server;
  let browser: Browser;

  beforeAll(async () => {
    await buildBrowser();
    server = await serveBrowser(0);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--no-sandbox',
        // WebGPU without a GPU: Dawn on SwiftShader's Vulkan, on a page served from 127.0.0.1 (a secure context).
        '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-webgpu-adapter=swiftshader',
        '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    server?.close();
  });

  it('one forward and backward pass on the CPU and the WebGPU backend agree', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${urlOf(server)}check.html?backend=webgpu`);
    await page.waitForFunction(() => window.ndcnnResult !== undefined, undefined, { timeout: 60_000 });
    const r = (await page.evaluate(() => window.ndcnnResult)) as PageResult;
    expect(errors).toEqual([]);
    expect(r.error).toBeUndefined();
    expect(r.gpu).toMatch(/^webgpu on .*swiftshader.*navigator\.gpu/i);
    // As test/webgpu/network.test.ts: rounding only, 2e-5 of the largest value leaves a wide margin.
    expect(r.maxDiff.outputs).toBeLessThanOrEqual(2e-5 * r.maxAbs.outputs);
    expect(r.maxDiff.gradient).toBeLessThanOrEqual(2e-5 * r.maxAbs.gradient);
    expect(Math.abs(r.loss.gpu - r.loss.cpu)).toBeLessThanOrEqual(2e-5 * r.loss.cpu);
    await page.close();
  });

  it('the demo picks WebGPU, trains on it, and the CPU run from the same start gives the same losses', async () => {
    const STEPS = 12;
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${urlOf(server)}?steps=${STEPS}&eval=${STEPS}`);
    const done = (n: number) =>
      page.waitForFunction((k) => window.ndcnnDemo?.error !== undefined || (window.ndcnnDemo?.runs.length === k && window.ndcnnDemo.runs.every((r) => r.done)), n, { timeout: 240_000 });
    await done(1);
    await page.click('#cpu');
    await done(2);
    const s = (await page.evaluate(() => window.ndcnnDemo)) as DemoState;
    expect(errors).toEqual([]);
    expect(s.error).toBeUndefined();
    expect(s.choice).toBe('WebGPU: navigator.gpu gave an adapter');
    const [w, c] = s.runs;
    expect([w.backend, w.error, w.steps, c.backend, c.error, c.steps]).toEqual(['webgpu', undefined, STEPS, 'cpu', undefined, STEPS]);
    expect(w.runs).toMatch(/^webgpu on .*swiftshader/i);
    // Same weights and batches: every loss differs by float32 rounding only (2e-5, as the network
    // tests; measured ≤ 1e-7 over the 12 steps of SGD with momentum).
    for (let k = 0; k < STEPS; k++) expect(Math.abs(w.losses[k] - c.losses[k]) / c.losses[k], `step ${k + 1}`).toBeLessThan(2e-5);
    const mean = (a: number[]) => a.reduce((t, v) => t + v, 0) / a.length;
    expect(mean(w.losses.slice(-4))).toBeLessThan(0.8 * mean(w.losses.slice(0, 4)));
    const shots = join(resolve(__dirname, '..', '..'), 'test-results', 'browser');
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: join(shots, 'demo-webgpu.png'), fullPage: true });
    console.log(`demo on WebGPU: ${w.msPerStep.toFixed(0)} ms a step; CPU ${c.msPerStep.toFixed(0)} ms; losses ${w.losses.map((l, k) => (Math.abs(l - c.losses[k]) / c.losses[k]).toExponential(1)).join(' ')}`);
    await page.close();
  });
});
