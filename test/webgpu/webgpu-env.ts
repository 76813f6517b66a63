/**
 * The WebGPU backend the tests run on in Node: Dawn (the npm package `webgpu`) on whatever
 * adapter it finds (chromium's SwiftShader here and in CI). Opened once per test file. Where it
 * cannot open, the suites are skipped with the reason in their names; in CI (CI=true) they run
 * anyway and fail, because a CI that silently skipped its WebGPU run would prove nothing.
 */
import { webgpuBackend } from '../../src/nd/backends/webgpu/open.js';
import type { WebGpuBackend } from '../../src/nd/backends/webgpu/index.js';

let opened: WebGpuBackend | null = null;
let missing: string | null = null;
try {
  opened = await webgpuBackend();
} catch (e) {
  missing = (e as Error).message;
}

/** True when the WebGPU suites are skipped (never in CI). */
export const skipWebgpu = missing !== null && process.env.CI !== 'true';

export const webgpuTitle = (what: string): string =>
  `${what} [${opened ? opened.describe() : 'no adapter'}]${missing ? ` (unavailable here, so skipped outside CI: ${missing})` : ''}`;

/** The backend of this test file (throws the reason it could not open, in CI). */
export function webgpu(): WebGpuBackend {
  if (!opened) throw new Error(missing ?? 'webgpu backend did not open');
  return opened;
}
