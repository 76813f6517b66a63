/** Opens the WebGPU backend where this code runs: `navigator.gpu` in a browser, Dawn in Node. */
import { webgpuOn, type WebGpuBackend } from './index.js';

export async function webgpuBackend(): Promise<WebGpuBackend> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  if (nav?.gpu) return webgpuOn(nav.gpu, 'navigator.gpu');
  if (typeof process === 'object' && process.versions?.node) {
    // A variable specifier keeps bundlers from pulling the Node loader (and node:fs) into a page.
    const node = './node.js';
    return ((await import(node)) as typeof import('./node.js')).nodeWebgpu();
  }
  throw new Error('webgpu backend: this browser has no navigator.gpu (WebGPU is disabled or unsupported here)');
}
