/**
 * WebGPU in Node through Dawn: the npm package `webgpu` (dawn.node), which drives Vulkan. It
 * needs the Vulkan loader (Debian: libvulkan1) and a driver: a GPU's own (NVIDIA's ICD), else a
 * software one. When the default drivers give no adapter and $VK_ICD_FILENAMES is unset, the
 * SwiftShader driver that Debian's chromium ships is tried (the adapter CI and the browser tests
 * run on). Every missing piece is named in the error.
 */
import { existsSync } from 'node:fs';
import { webgpuOn, type WebGpuBackend } from './index.js';

/** Debian's chromium package carries SwiftShader's Vulkan driver here. */
export const CHROMIUM_SWIFTSHADER = '/usr/lib/chromium/vk_swiftshader_icd.json';

export async function nodeWebgpu(): Promise<WebGpuBackend> {
  let dawn: { create(flags: string[]): GPU };
  try {
    dawn = (await import('webgpu')) as unknown as typeof dawn;
  } catch (e) {
    throw new Error(`webgpu backend: Node needs the npm package 'webgpu' (Dawn), which did not load: ${(e as Error).message.split('\n')[0]} (npm install webgpu)`);
  }
  let gpu = dawn.create([]);
  let adapter = await gpu.requestAdapter();
  let where = 'Dawn (Vulkan)';
  if (!adapter && process.env.VK_ICD_FILENAMES === undefined && existsSync(CHROMIUM_SWIFTSHADER)) {
    // The Vulkan loader reads the variable when Dawn creates its next instance.
    process.env.VK_ICD_FILENAMES = CHROMIUM_SWIFTSHADER;
    gpu = dawn.create([]);
    adapter = await gpu.requestAdapter();
    where = `Dawn on chromium's SwiftShader Vulkan driver (${CHROMIUM_SWIFTSHADER}), no other Vulkan driver gave an adapter`;
  }
  if (!adapter) {
    const loader = ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/aarch64-linux-gnu/libvulkan.so.1', '/usr/lib64/libvulkan.so.1'].some(existsSync);
    throw new Error(
      `webgpu backend: Dawn found no WebGPU adapter in Node: ${loader ? 'the Vulkan loader is installed but no Vulkan driver gave an adapter' : 'the Vulkan loader libvulkan.so.1 is missing (Debian: apt-get install libvulkan1)'}` +
        `; a GPU needs its vendor's Vulkan driver, a machine without one a software driver (chromium's SwiftShader at ${CHROMIUM_SWIFTSHADER}, or set VK_ICD_FILENAMES)`,
    );
  }
  return webgpuOn(gpu, where, adapter);
}
