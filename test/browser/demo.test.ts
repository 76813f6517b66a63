/**
 * The demo page (`npm run demo`) in headless Debian Chromium, built and served by the same code
 * as `npm run demo` (cross-origin isolated: COOP/COEP), with WebGPU on SwiftShader's Vulkan and
 * WebGL2 on SwiftShader, Chromium's software GPU. Left to choose, the page picks WebGPU and says
 * why; one click later it trains on gpu.js (WebGL2), and one more on the CPU backend: the wasm
 * SIMD kernels on two Web Worker threads, from a worker of its own. All three start from the same
 * weights and batches, so their losses agree to float32 rounding step by step; the loss falls,
 * the plots are drawn, and screenshots are written to test-results/browser/. The check page
 * compares one pass on WebGPU with the CPU's. Opened from disk,
 * it says to run `npm run demo` instead of hanging. Skipped, with the reason, where Chromium is
 * missing; in CI it must run.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBrowser } from '../../browser/build.js';
import type { PageResult } from '../../browser/check.js';
import type { DemoRun, DemoState } from '../../browser/demo.js';
import { serveBrowser, urlOf } from '../../browser/serve.js';
import { inCI } from '../gpu/gpu-mode.js';

const CHROMIUM = '/usr/bin/chromium';
const missing = existsSync(CHROMIUM) ? null : `${CHROMIUM} not found (Debian package chromium)`;
const ROOT = resolve(__dirname, '..', '..');
const SHOTS = join(ROOT, 'test-results', 'browser');
/** Steps per run: SwiftShader takes ~2–3 s a step on two shared cores (WebGPU and WebGL2), so a short run. */
const STEPS = 12;
/**
 * Relative difference of two runs' losses at the same step: float32 on every backend, summed in
 * different orders (GEMM tiles, texture passes, wasm blocks, thread shares), a few ε32 a pass,
 * compounded through 12 momentum updates; 2e-5, as test/gpu/network.test.ts (measured ≤ 1e-6).
 */
const AGREE = 2e-5;

const mean = (a: number[]) => a.reduce((s, v) => s + v, 0) / a.length;

/** The batch loss falls: the mean of the last four steps is below 80 % of the first four's (measured: ~65 %). */
function expectLearning(r: DemoRun): void {
  expect(r.error).toBeUndefined();
  expect(r.steps).toBe(STEPS);
  expect(r.losses.every(Number.isFinite)).toBe(true);
  expect(mean(r.losses.slice(-4))).toBeLessThan(0.8 * mean(r.losses.slice(0, 4)));
  // Held-out accuracy at the last step, against 10 % for guessing (measured: ~60 %).
  expect(r.accuracy.at(-1)![0]).toBe(STEPS);
  expect(r.accuracy.at(-1)![1]).toBeGreaterThan(0.3);
}

/** Pixels of the loss canvas in a run's colour: the curve was really drawn. */
function curvePixels(page: Page, color: [number, number, number]): Promise<number> {
  return page.evaluate((c) => {
    const canvas = document.getElementById('loss') as HTMLCanvasElement;
    const px = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 0; i < px.length; i += 4) if (Math.abs(px[i] - c[0]) + Math.abs(px[i + 1] - c[1]) + Math.abs(px[i + 2] - c[2]) < 30) n++;
    return n;
  }, color);
}

async function screenshot(page: Page, name: string): Promise<void> {
  const path = join(SHOTS, name);
  await page.screenshot({ path, fullPage: true });
  const png = readFileSync(path);
  expect(png.subarray(1, 4).toString()).toBe('PNG');
  expect(png.length).toBeGreaterThan(20_000);
}

describe.skipIf(missing !== null && !inCI)(`the demo page in Chromium${missing ? ` (unavailable here, so skipped outside CI: ${missing})` : ''}`, () => {
  let server: Server;
  let context: BrowserContext;
  let profile: string;
  let page: Page;
  const errors: string[] = [];

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    await buildBrowser();
    server = await serveBrowser(0);
    profile = mkdtempSync(join(tmpdir(), 'ndcnn-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      args: [
        '--headless', '--no-sandbox',
        // No GPU here: WebGPU on Dawn over SwiftShader's Vulkan, on a page served from 127.0.0.1
        // (a secure context); WebGL2 on SwiftShader too.
        '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-webgpu-adapter=swiftshader',
        // No outside network here: keep Chromium from trying.
        '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
      ],
    });
    page = await context.newPage();
    page.on('pageerror', (e) => errors.push(e.message));
  });

  afterAll(async () => {
    await context?.close();
    server?.close();
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  const state = () => page.evaluate(() => window.ndcnnDemo) as Promise<DemoState>;
  const runsDone = (n: number) =>
    page.waitForFunction((k) => window.ndcnnDemo?.error !== undefined || (window.ndcnnDemo?.runs.length === k && window.ndcnnDemo.runs.every((r) => r.done)), n, {
      timeout: 240_000,
    });

  it('picks WebGPU by itself, says why, and trains on it: the loss falls and the plots are drawn', async () => {
    await page.goto(`${urlOf(server)}?steps=${STEPS}&eval=${STEPS}`);
    await runsDone(1);
    const s = await state();
    expect(s.error).toBeUndefined();
    expect(errors).toEqual([]);
    expect(s.isolated).toBe(true);
    expect(s.digits).toEqual({ train: 2000, test: 500 });
    expect(s.choice).toBe('WebGPU: navigator.gpu gave an adapter');
    const [w] = s.runs;
    expect(w.backend).toBe('webgpu');
    expect(w.runs).toMatch(/^webgpu on .*swiftshader.*navigator\.gpu/i);
    expectLearning(w);
    expect(await page.locator('#status').textContent()).toBe(`Stopped after ${STEPS} steps on ${w.runs}`);
    expect(await curvePixels(page, [0x1f, 0x6f, 0xd1])).toBeGreaterThan(100);
    await screenshot(page, 'demo-webgpu.png');
  });

  it('gpu.js on WebGL2 is one click away and gives the same losses from the same start', async () => {
    await page.click('#gpu');
    await runsDone(2);
    const s = await state();
    expect(errors).toEqual([]);
    const [w, gpu] = s.runs;
    expect(gpu.backend).toBe('gpu');
    // The mode that really ran, with no fallback.
    expect(gpu.runs).toBe('gpu.js webgl2 (float32)');
    expect(gpu.fallback).toBeNull();
    expectLearning(gpu);
    for (let k = 0; k < STEPS; k++) expect(Math.abs(gpu.losses[k] - w.losses[k]) / w.losses[k], `step ${k + 1}`).toBeLessThan(AGREE);
    expect(await curvePixels(page, [0xd1, 0x43, 0x1f])).toBeGreaterThan(100);
    await screenshot(page, 'demo-gpu.png');
  });

  it('the CPU backend runs its wasm kernels on two Web Worker threads, with the same losses', async () => {
    await page.click('#cpu');
    await runsDone(3);
    const s = await state();
    expect(errors).toEqual([]);
    const [w, , cpu] = s.runs;
    expect(cpu.backend).toBe('cpu');
    expect(cpu.runs).toMatch(/^cpu \(float32, gemm wasm-simd.*, 2 threads \(Web Workers\)$/);
    expect(cpu.fallback).toBeNull();
    expectLearning(cpu);
    for (let k = 0; k < STEPS; k++) expect(Math.abs(cpu.losses[k] - w.losses[k]) / w.losses[k], `step ${k + 1}`).toBeLessThan(AGREE);
    expect(await curvePixels(page, [0x2c, 0x9a, 0x3a])).toBeGreaterThan(100);
    expect(await page.locator('#runs').textContent()).toContain('#3 CPU');
    await screenshot(page, 'demo.png');
    const worst = (r: DemoRun) => Math.max(...r.losses.map((l, k) => Math.abs(l - w.losses[k]) / w.losses[k])).toExponential(1);
    console.log(`demo: ms a step WebGPU ${w.msPerStep.toFixed(0)}, gpu.js ${s.runs[1].msPerStep.toFixed(0)}, CPU (wasm, 2 workers) ${cpu.msPerStep.toFixed(1)}; largest loss difference from WebGPU: gpu.js ${worst(s.runs[1])}, CPU ${worst(cpu)}`);
  });

  it('the check page: one forward and backward pass on the CPU and the WebGPU backend agree', async () => {
    const check = await context.newPage();
    const failures: string[] = [];
    check.on('pageerror', (e) => failures.push(e.message));
    await check.goto(`${urlOf(server)}check.html?backend=webgpu`);
    await check.waitForFunction(() => window.ndcnnResult !== undefined, undefined, { timeout: 60_000 });
    const r = (await check.evaluate(() => window.ndcnnResult)) as PageResult;
    expect(failures).toEqual([]);
    expect(r.error).toBeUndefined();
    expect(r.gpu).toMatch(/^webgpu on .*swiftshader.*navigator\.gpu/i);
    // As test/webgpu/network.test.ts: rounding only, 2e-5 of the largest value leaves a wide margin.
    expect(r.maxDiff.outputs).toBeLessThanOrEqual(2e-5 * r.maxAbs.outputs);
    expect(r.maxDiff.gradient).toBeLessThanOrEqual(2e-5 * r.maxAbs.gradient);
    expect(Math.abs(r.loss.gpu - r.loss.cpu)).toBeLessThanOrEqual(2e-5 * r.loss.cpu);
    await check.close();
  });

  it('opened from disk, it says to run npm run demo instead of hanging', async () => {
    const local = await context.newPage();
    await local.goto(pathToFileURL(join(ROOT, 'browser', 'index.html')).href);
    await expect.poll(() => local.locator('#status').textContent()).toContain('run `npm run demo`');
    expect(await local.locator('#status').getAttribute('class')).toBe('error');
    await local.close();
  });
});
