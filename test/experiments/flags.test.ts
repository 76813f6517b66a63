/**
 * Flags the command line must refuse, naming the flag, before anything is read or written:
 * flags without values, empty values, flags that do not apply to the experiment or backend,
 * values out of range for the data. The backend is opened before the data loads, so a wrong
 * backend or GPU mode is reported even when the data is missing too.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gpuModes } from '../../src/nd/backends/gpu/index.js';
import { inProcess, oneLine } from './run-cli.js';

const tmp = mkdtempSync(join(tmpdir(), 'ndcnn-flags-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
/** A data directory that does not exist: any data load would fail with "data set not found". */
const NO_DATA = ['--data-dir', join(tmp, 'no-data')];

describe('backend flags are checked before the data loads', () => {
  it.each([
    [['--backend', 'abacus'], /--backend abacus: unknown backend 'abacus' \(known: cpu, gpu\)/],
    [['--gpu-mode', 'webasm'], /--gpu-mode applies to --backend gpu, not cpu/],
    [['--allow-fallback'], /--allow-fallback applies to --backend gpu, not cpu/],
    [['--backend', 'gpu', '--gpu-mode', 'warp'], /--gpu-mode warp: unknown \(known: headlessgl, webgl2, webgl, webgpu, webasm, cpu\)/],
  ])('%j', async (flags, message) => {
    const out = join(tmp, `never-${Math.random().toString(36).slice(2)}`);
    const r = await inProcess('train', 'audio1d', ...NO_DATA, ...flags, '--out', out);
    expect(r.status).toBe(2);
    expect(oneLine(r)).toMatch(message);
    expect(existsSync(out)).toBe(false);
  });

  const missing = gpuModes().find((m) => !m.available);
  it.runIf(missing)(`--gpu-mode ${missing?.mode} (unavailable here) names the reason; --allow-fallback gets past it`, async () => {
    const r = await inProcess('train', 'audio1d', ...NO_DATA, '--backend', 'gpu', '--gpu-mode', missing!.mode, '--out', join(tmp, 'x'));
    expect(r.status).toBe(2);
    expect(oneLine(r)).toContain(`--backend gpu: gpu backend: mode '${missing!.mode}' is unavailable`);
    // With the fallback the backend opens (warning on stderr), and the run fails only at the data.
    const f = await inProcess('train', 'audio1d', ...NO_DATA, '--backend', 'gpu', '--gpu-mode', missing!.mode, '--allow-fallback', '--out', join(tmp, 'x'));
    expect(f.stderr).toMatch(/fsdd: data set not found/);
  });
});
