/**
 * The demo page (`npm run demo`) in headless Debian Chromium: built and served by the same code
 * as `npm run demo`, it trains the CNN on MNIST digits on the GPU backend (gpu.js WebGL2, on
 * SwiftShader, Chromium's software GPU, here) and, one click later, on the CPU backend; the loss
 * falls on both, the plots are drawn, and screenshots are written to test-results/browser/.
 * Opened from disk, it says to run `npm run demo` instead of hanging.
 * Skipped, with the reason, where Chromium is missing; in CI it must run.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBrowser } from '../../browser/build.js';
import type { DemoRun, DemoState } from '../../browser/demo.js';
import { serveBrowser, urlOf } from '../../browser/serve.js';
import { inCI } from '../gpu/gpu-mode.js';

const CHROMIUM = '/usr/bin/chromium';
const missing = existsSync(CHROMIUM) ? null : `${CHROMIUM} not found (Debian package chromium)`;
const ROOT = resolve(__dirname, '..', '..');
const SHOTS = join(ROOT, 'test-results', 'browser');
/** Steps per run: SwiftShader takes ~2 s a step on two shared cores, so a short run. */
const STEPS = 12;

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
        // No GPU here: Chromium runs WebGL2 on SwiftShader, its CPU implementation of the GPU.
        '--disable-gpu',
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

  it('trains on the GPU backend (gpu.js webgl2): the loss falls and the plots are drawn', async () => {
    await page.goto(`${urlOf(server)}?steps=${STEPS}&eval=${STEPS}`);
    await runsDone(1);
    const s = await state();
    expect(s.error).toBeUndefined();
    expect(errors).toEqual([]);
    expect(s.digits).toEqual({ train: 2000, test: 500 });
    const [gpu] = s.runs;
    expect(gpu.backend).toBe('gpu');
    // The mode that really ran, with no fallback.
    expect(gpu.runs).toBe('gpu.js webgl2 (float32)');
    expect(gpu.fallback).toBeNull();
    expectLearning(gpu);
    expect(await page.locator('#status').textContent()).toBe(`Stopped after ${STEPS} steps on gpu.js webgl2 (float32)`);
    expect(await curvePixels(page, [0x1f, 0x6f, 0xd1])).toBeGreaterThan(100);
    await screenshot(page, 'demo-gpu.png');
  });

  it('the CPU backend is one click away and starts from the same weights and batch', async () => {
    await page.click('#cpu');
    await runsDone(2);
    const s = await state();
    expect(errors).toEqual([]);
    const [gpu, cpu] = s.runs;
    expect(cpu.backend).toBe('cpu');
    expect(cpu.runs).toMatch(/^cpu \(float32, gemm js/);
    expectLearning(cpu);
    // The first loss is a forward pass of the same weights on the same batch: float32 on both
    // backends, summed in different orders, so equal to rounding (2e-5, as test/gpu/network.test.ts).
    expect(Math.abs(cpu.losses[0] - gpu.losses[0]) / cpu.losses[0]).toBeLessThan(2e-5);
    expect(await curvePixels(page, [0xd1, 0x43, 0x1f])).toBeGreaterThan(100);
    expect(await page.locator('#runs').textContent()).toContain('#2 CPU');
    await screenshot(page, 'demo.png');
  });

  it('opened from disk, it says to run npm run demo instead of hanging', async () => {
    const local = await context.newPage();
    await local.goto(pathToFileURL(join(ROOT, 'browser', 'index.html')).href);
    await expect.poll(() => local.locator('#status').textContent()).toContain('run `npm run demo`');
    expect(await local.locator('#status').getAttribute('class')).toBe('error');
    await local.close();
  });
});
