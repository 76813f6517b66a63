/** Mode selection: every mode listed with a reason when unavailable; demands and fallbacks are never silent. */
import { describe, expect, it, vi } from 'vitest';
import { GPU_MODES, gpuBackend, GpuModeError, gpuModes, MODE_ENV } from '../../src/nd/backends/gpu/index.js';
import { inCI, modes } from './gpu-mode.js';

const unavailable = modes.filter((m) => !m.available);
const headless = modes.find((m) => m.mode === 'headlessgl')!;

describe('gpu.js modes', () => {
  it('lists every mode, each unavailable one with a reason', () => {
    const list = gpuModes();
    expect(list.map((m) => m.mode)).toEqual([...GPU_MODES]);
    for (const m of list) expect(m.available ? m.reason : m.reason.length > 10).toBe(m.available ? '' : true);
    // In Node the browser modes can never run, and webgpu's Promise-only kernels cannot serve a synchronous contract.
    expect(list.find((m) => m.mode === 'webgl2')!.reason).toMatch(/browser/);
    expect(list.find((m) => m.mode === 'webgpu')!.reason).toMatch(/synchronous/);
    expect(list.find((m) => m.mode === 'cpu')!.available).toBe(true);
  });

  it.each(unavailable.map((m) => [m.mode, m.reason]))('demanding %s throws its reason', (mode, reason) => {
    expect(() => gpuBackend({ mode: mode as never })).toThrow(GpuModeError);
    expect(() => gpuBackend({ mode: mode as never })).toThrow(reason);
  });

  it('a fallback is reported by a warning and by describe()', () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    const b = gpuBackend({ mode: 'webgpu', allowFallback: true });
    expect(warn).toHaveBeenCalledWith(expect.stringMatching(/webgpu.*unavailable/));
    expect(b.describe()).toMatch(/fallback because mode 'webgpu' is unavailable/);
    expect(b.describe()).toContain(`gpu.js ${b.mode}`);
    warn.mockRestore();
    b.destroy();
  });

  it(`${MODE_ENV} picks the mode when none is given, and an unknown name is refused`, () => {
    const old = process.env[MODE_ENV];
    try {
      process.env[MODE_ENV] = 'cpu';
      const b = gpuBackend();
      expect(b.describe()).toBe('gpu.js cpu (float32)');
      b.destroy();
      process.env[MODE_ENV] = 'cuda';
      expect(() => gpuBackend()).toThrow(/unknown mode 'cuda'.*NDCNN_GPU_MODE/);
    } finally {
      if (old === undefined) delete process.env[MODE_ENV];
      else process.env[MODE_ENV] = old;
    }
  });

  it.skipIf(!headless.available && !inCI)(
    `headlessgl runs on real WebGL${headless.available ? '' : ` (unavailable here, so skipped outside CI: ${headless.reason})`}`,
    () => {
      const b = gpuBackend({ mode: 'headlessgl' });
      expect(b.describe()).toBe('gpu.js headlessgl (float32)');
      const t = b.upload([3], [1, 2, 3]);
      b.scale(t, t, 2);
      expect(Array.from(b.download(t))).toEqual([2, 4, 6]);
      b.destroy();
    },
  );
});
