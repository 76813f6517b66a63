/**
 * The WebGPU backend in a real browser: the check page (browser/check.ts) with ?backend=webgpu
 * in headless Debian Chromium on its SwiftShader WebGPU adapter, served from 127.0.0.1: one
 * forward and one backward pass against the CPU backend in the same page. Skipped, with the
 * reason, where Chromium is missing; in CI it must run.
 */
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBrowser } from '../../browser/build.js';
import type { PageResult } from '../../browser/check.js';
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
});
