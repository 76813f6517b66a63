/**
 * Files checked by the real readers (make_fixtures.py: json + NumPy, np.load, PyTorch 1.13,
 * onnx.checker), both ways:
 *   ndcnn → NumPy/PyTorch: the committed ndcnn-written files are still byte for byte what the
 *   current writers produce, and PyTorch, having rebuilt the network from the safetensors
 *   metadata alone and loaded the tensors strictly by name, computed what ndcnn computes.
 *   PyTorch/NumPy → ndcnn: a state dict written by Python (safetensors, np.savez) loads into the
 *   equivalent ndcnn network and reproduces PyTorch's outputs.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { decodeNpz, loadNetwork, readSafetensors } from '../../src/io/index.js';
import { conv, dense, flatten, maxPool } from '../../src/layers/index.js';
import { Network } from '../../src/network/index.js';
import { cpuBackend } from '../../src/nd/backends/cpu/index.js';
import { sizeOf } from '../../src/nd/shape.js';
import { FIXTURES, fixtureInput, fixtureNetwork, IN_SHAPE, ndcnnFiles } from './fixtures/ndcnn-files.js';

const path = (name: string) => new URL(name, FIXTURES).pathname;
const check = JSON.parse(readFileSync(path('ndcnn-check.json'), 'utf8'));

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

describe('ndcnn-written files, as NumPy and PyTorch read them', () => {
  it.each(Object.entries(ndcnnFiles()))('%s is byte for byte the file Python checked', (name, bytes) => {
    expect(Buffer.from(bytes).equals(readFileSync(path(name)))).toBe(true);
    expect(check.files[name].sha256).toMatch(/^[0-9a-f]{64}$/);
  });
  it('onnx.checker accepted the ONNX file', () => expect(check.files['ndcnn-2d.onnx'].onnxChecker).toBe('passed'));
  it.each(['ndcnn-2d.safetensors', 'ndcnn-2d-f64.safetensors', 'ndcnn-2d.npz'])('%s: PyTorch found the same names and computed the same outputs', (name) => {
    const net = fixtureNetwork('float64');
    expect(check.files[name].keys).toEqual(net.namedParameters().map((p) => p.name));
    expect(check.files[name].dtypes).toEqual([name.includes('f64') ? 'float64' : 'float32']);
    // Both sides evaluate in float64 on the stored values (float32-rounded for the F32 files), so
    // they differ only by float64 summation order: ~1e-16 relative, bounded here by 1e-12.
    const stored = name.endsWith('.npz') ? loadNetwork(path('ndcnn-2d.safetensors'), { backend: cpuBackend('float64') }) : loadNetwork(path(name), { backend: cpuBackend('float64') });
    if (name.endsWith('.npz')) {
      const arrays = decodeNpz(readFileSync(path(name)));
      expect(Object.keys(arrays)).toEqual(check.files[name].keys);
      stored.loadStateDict(arrays);
    }
    const x = Float64Array.from(fixtureInput(2));
    expect(maxAbsDiff(stored.predict(x, 2), check.files[name].output)).toBeLessThan(1e-12);
    expect(stored.inShape).toEqual(IN_SHAPE);
  });
});

describe('PyTorch-written state dicts load into the equivalent ndcnn network', () => {
  const m = JSON.parse(readFileSync(path('torch.json'), 'utf8')).models.cnn2d;
  // nn.Sequential(Conv2d(1,4,3,padding=1), ReLU, MaxPool2d(2), Conv2d(4,6,(3,2),stride=(1,2),dilation=(2,1)), Sigmoid, Flatten, Linear(24,8), ReLU, Linear(8,3))
  const build = () =>
    new Network(cpuBackend('float32'), m.inShape, [
      conv({ channels: 4, kernel: 3, padding: 1, activation: 'relu' }),
      maxPool({ window: 2 }),
      conv({ channels: 6, kernel: [3, 2], stride: [1, 2], dilation: [2, 1], activation: 'sigmoid' }),
      flatten(),
      dense({ units: 8, activation: 'relu' }),
      dense({ units: 3 }),
    ]);
  const n = m.input.length / sizeOf(m.inShape);

  it('safetensors written by a plain Python writer (no header padding) reproduces PyTorch to 1e-5', () => {
    const net = build();
    net.loadStateDict(readSafetensors(path('torch-cnn2d.safetensors')).tensors);
    // float32 on both sides, summed in different orders (see onnx.test.ts for the bound).
    expect(maxAbsDiff(net.predict(Float32Array.from(m.input), n), m.output)).toBeLessThan(1e-5);
  });
  it('np.savez float64 arrays hold the same values', () => {
    const net = build();
    net.loadStateDict(decodeNpz(readFileSync(path('torch-cnn2d.npz')), 'torch-cnn2d.npz'));
    const ref = build();
    ref.loadStateDict(readSafetensors(path('torch-cnn2d.safetensors')).tensors);
    expect(net.params).toEqual(ref.params);
  });
});
