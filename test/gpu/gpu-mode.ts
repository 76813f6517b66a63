/**
 * Which gpu.js mode the GPU tests run in: NDCNN_GPU_MODE when set (CI runs the suite once under
 * xvfb-run with headlessgl and once with webasm), else the best mode available here.
 * A missing mode skips the suites with the reason in their names; in CI (CI=true) they run
 * anyway and fail, because a CI that silently skipped its GPU run would prove nothing.
 */
import { gpuBackend, gpuModes, MODE_ENV, type GpuBackend, type GpuMode } from '../../src/nd/backends/gpu/index.js';

export const inCI = process.env.CI === 'true';
export const modes = gpuModes();

const fromEnv = process.env[MODE_ENV] as GpuMode | undefined;
/** The mode under test. */
export const gpuMode: GpuMode = fromEnv ?? modes.find((m) => m.available)!.mode;
const status = modes.find((m) => m.mode === gpuMode);
/** Why the mode under test cannot run here, or null. */
export const missing: string | null = !status ? `unknown mode '${gpuMode}'` : status.available ? null : status.reason;
/** True when the GPU suites are skipped (never in CI). */
export const skipGpu = missing !== null && !inCI;
/** A suite title that says why it was skipped. */
export const gpuTitle = (what: string): string =>
  `${what} [gpu.js ${gpuMode}]${missing ? ` (unavailable here, so skipped outside CI: ${missing})` : ''}`;

let shared: GpuBackend | null = null;

/** One backend per test file: a gpu.js instance compiles each kernel once and keeps its context. */
export function gpu(): GpuBackend {
  shared ??= gpuBackend({ mode: gpuMode });
  return shared;
}

/** Float32 machine epsilon, 2^-23 (the unit roundoff u is half of it). */
export const EPS32 = 2 ** -23;
