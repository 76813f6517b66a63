/**
 * The GPU backend in a real browser: builds the pages, serves browser/ on 127.0.0.1 (as npm run demo),
 * loads it in headless Debian Chromium (WebGL2 on SwiftShader, Chromium's software GPU) and
 * reads the page's result: one forward and one backward pass on the CPU and GPU backends.
 * Skipped, with the reason, where Chromium is missing; in CI it must run.
 */
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBrowser } from '../../browser/build.js';
import type { PageResult } from '../../browser/check.js';
import { serveBrowser, urlOf } from '../../browser/serve.js';
import { inCI } from './gpu-mode.js';

const CHROMIUM = '/usr/bin/chromium';
const missing = existsSync(CHROMIUM) ? null : `${CHROMIUM} not found (Debian package chromium)`;

describe.skipIf(missing !== null && !inCI)(`browser page on WebGL2${missing ? ` (unavailable here, so skipped outside CI: ${missing})` : ''}`, () => {
  let server: Server;
  let browser: Browser;

  beforeAll(async () => {
    await buildBrowser();
    server = await serveBrowser(0);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        // Playwright adds --headless and a fresh temporary profile (--user-data-dir) itself.
        '--no-sandbox',
        // WebGL without a GPU: ANGLE on SwiftShader, Chromium's CPU implementation of the GPU.
        '--use-angle=swiftshader', '--enable-unsafe-swiftshader',
        // No outside network here: keep Chromium from trying.
        '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run',
      ],
    });
  });

  afterAll(async () => {
    await browser?.close();
    server?.close();
  });

  it('one forward and backward pass on the CPU and the GPU backend (gpu.js webgl2) agree', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${urlOf(server)}check.html?mode=webgl2`);
    await page.waitForFunction(() => window.ndcnnResult !== undefined, undefined, { timeout: 60_000 });
    const r = (await page.evaluate(() => window.ndcnnResult)) as PageResult;
    expect(errors).toEqual([]);
    expect(r.error).toBeUndefined();
    expect(r.gpu).toBe('gpu.js webgl2 (float32)');
    expect(r.cpu).toMatch(/^cpu \(float32/);
    // float32 on both sides, different summation orders: rounding only, a few ε32 relative to
    // the values' size (see network.test.ts); 2e-5 of the largest value leaves a wide margin.
    expect(r.maxDiff.outputs).toBeLessThanOrEqual(2e-5 * r.maxAbs.outputs);
    expect(r.maxDiff.gradient).toBeLessThanOrEqual(2e-5 * r.maxAbs.gradient);
    expect(Math.abs(r.loss.gpu - r.loss.cpu)).toBeLessThanOrEqual(2e-5 * r.loss.cpu);
    expect(await page.locator('#table').textContent()).toContain('max |GPU − CPU|');
    await page.close();
  });
});
