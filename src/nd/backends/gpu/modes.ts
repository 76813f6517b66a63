/**
 * Which gpu.js modes can run here, and why the others cannot. gpu.js itself only answers
 * "not supported"; a person choosing a mode needs the reason and the fix, so each probe below
 * tells what is missing (the `gl` build, an X display, a browser) in words.
 */
import { CPUKernel, HeadlessGLKernel, WebAssemblyKernel, WebGL2Kernel, WebGLKernel, type Kernel } from 'gpu.js';

export type GpuMode = 'headlessgl' | 'webgl2' | 'webgl' | 'webgpu' | 'webasm' | 'cpu';

/** Preference order when no mode is named: real GL first, then wasm SIMD, then transpiled JS. */
export const GPU_MODES: readonly GpuMode[] = ['headlessgl', 'webgl2', 'webgl', 'webgpu', 'webasm', 'cpu'];

export interface ModeStatus {
  mode: GpuMode;
  available: boolean;
  /** Why it cannot run here (empty when available). */
  reason: string;
}

/** The environment variable that picks the mode when the caller names none (CI runs the suite per mode). */
export const MODE_ENV = 'NDCNN_GPU_MODE';

const inNode = typeof process !== 'undefined' && !!process.versions?.node;

/** Loads the optional `gl` addon the way gpu.js does, to tell "not built" from "no display". */
function glLoadError(): string | null {
  const getBuiltin = (process as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule;
  if (!getBuiltin) return null; // older Node: trust gpu.js's own probe below
  const { createRequire } = getBuiltin('module') as typeof import('module');
  try {
    createRequire(import.meta.url)('gl');
    return null;
  } catch (e) {
    return (e as Error).message.split('\n')[0];
  }
}

function hasFloatTextures(kernel: typeof Kernel): boolean {
  const f = kernel.features as { isTextureFloat?: boolean; isFloatRead?: boolean } | undefined;
  return !!f?.isTextureFloat && !!f?.isFloatRead;
}

type Probe = () => string;

/** Each probe returns '' when the mode runs here, else the reason it does not. */
const probes: Record<GpuMode, Probe> = {
  headlessgl: () => {
    if (!inNode) return 'headlessgl runs only in Node; in a browser use webgl2';
    const err = glLoadError();
    if (err !== null) {
      return (
        `the optional \`gl\` package did not build or is missing (${err}); run \`npm rebuild gl\` ` +
        '(needs python3, make, g++, pkg-config and Debian libx11-dev libxi-dev libxext-dev)'
      );
    }
    if (!HeadlessGLKernel.isSupported) {
      return process.env.DISPLAY
        ? `\`gl\` loaded but could not open a WebGL context on DISPLAY=${process.env.DISPLAY} (is Mesa's libgl1-mesa-dri installed?)`
        : '`gl` loaded but there is no X display: run under `xvfb-run -a` (Debian xvfb)';
    }
    if (!hasFloatTextures(HeadlessGLKernel)) return 'the headless-gl context lacks float textures (OES_texture_float)';
    return '';
  },
  webgl2: () => {
    if (inNode) return 'webgl2 needs a browser (Node has no WebGL2RenderingContext; in Node use headlessgl)';
    if (!WebGL2Kernel.isSupported) return 'this browser gives no WebGL2 context (GPU blocklisted? try --use-angle=swiftshader)';
    return hasFloatTextures(WebGL2Kernel) ? '' : 'the WebGL2 context cannot render or read float textures';
  },
  webgl: () => {
    if (inNode) return 'webgl needs a browser (Node has no WebGLRenderingContext; in Node use headlessgl)';
    if (!WebGLKernel.isSupported) return 'this browser gives no WebGL context';
    return hasFloatTextures(WebGLKernel) ? '' : 'the WebGL context lacks float textures (OES_texture_float)';
  },
  webgpu: () =>
    'gpu.js webgpu kernels return Promises, and the Backend contract (download, dot, writeBack) is synchronous',
  webasm: () => (WebAssemblyKernel.isSupported ? '' : 'this platform has no WebAssembly SIMD'),
  cpu: () => (CPUKernel.isSupported ? '' : 'gpu.js reports its cpu kernel unsupported'),
};

/** Every mode with whether it runs here and, if not, why. */
export function gpuModes(): ModeStatus[] {
  return GPU_MODES.map((mode) => {
    const reason = probes[mode]();
    return { mode, available: reason === '', reason };
  });
}

export class GpuModeError extends Error {
  override name = 'GpuModeError';
}

export interface ModeChoice {
  mode: GpuMode;
  /** Set when the asked-for mode could not run and another was taken instead. */
  fallback: string | null;
}

/**
 * The mode to run: the one asked for (or named by NDCNN_GPU_MODE), else the first available.
 * An unavailable demand throws with the reason unless allowFallback, and then the fallback is
 * returned with that reason so the caller reports it.
 */
export function chooseMode(asked: GpuMode | undefined, allowFallback: boolean): ModeChoice {
  const fromEnv = inNode ? process.env[MODE_ENV] : undefined;
  const want = asked ?? (fromEnv ? (fromEnv as GpuMode) : undefined);
  const status = gpuModes();
  if (want !== undefined && !GPU_MODES.includes(want)) {
    throw new GpuModeError(`gpu backend: unknown mode '${want}'${asked ? '' : ` (from ${MODE_ENV})`}; known: ${GPU_MODES.join(', ')}`);
  }
  const first = status.find((s) => s.available);
  if (!first) throw new GpuModeError(`gpu backend: no gpu.js mode runs here: ${summary(status)}`);
  if (want === undefined) return { mode: first.mode, fallback: null };
  const s = status.find((m) => m.mode === want)!;
  if (s.available) return { mode: want, fallback: null };
  const why = `mode '${want}' is unavailable: ${s.reason}`;
  if (!allowFallback) throw new GpuModeError(`gpu backend: ${why}. Available: ${status.filter((m) => m.available).map((m) => m.mode).join(', ')}`);
  return { mode: first.mode, fallback: why };
}

function summary(status: ModeStatus[]): string {
  return status.map((s) => `${s.mode}: ${s.reason}`).join('; ');
}
