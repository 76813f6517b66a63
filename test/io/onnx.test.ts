/**
 * ONNX export checked by a real runtime (onnxruntime-node) in ranks 1–3, import of what
 * torch.onnx.export wrote (fixtures from make_fixtures.py), exact parameter round trips, and
 * errors naming the first node ndcnn cannot import.
 *
 * Tolerance 1e-5 (absolute, outputs of order 1): both sides compute in float32 but sum in
 * different orders (onnxruntime's MLAS kernels vs ndcnn's GEMM); each output is a chain of dot
 * products of at most ~150 terms here, whose reordering changes a float32 sum by at most
 * ~n·ε₃₂·Σ|terms| ≈ 150 · 6e-8 · O(1) ≈ 1e-5, and in practice far less. A wrong stride, padding,
 * layout or activation changes outputs at O(0.1).
 */
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { networkFromOnnx, networkToOnnx } from '../../src/io/index.js';
import { decodeModel, encodeModel } from '../../src/io/onnx/proto.js';
import { activation, avgPool, batchNorm, conv, dense, dropout, flatten, globalAvgPool, maxPool, residual, type LayerSpec } from '../../src/layers/index.js';
import { Network } from '../../src/network/index.js';
import { cpuBackend } from '../../src/nd/backends/cpu/index.js';
import { Rng } from '../../src/nd/rng.js';
import { sizeOf } from '../../src/nd/shape.js';
import { FIXTURES } from './fixtures/ndcnn-files.js';

const TOL = 1e-5;

const NETS: [string, number[], LayerSpec[]][] = [
  ['1-D', [3, 23], [
    conv({ channels: 4, kernel: 4, stride: 2, padding: 2, dilation: 1, activation: 'relu' }),
    maxPool({ window: 3, stride: 2 }),
    conv({ channels: 5, kernel: 3, dilation: 2, bias: false, activation: 'tanh' }),
    flatten(),
    dense({ units: 6, activation: 'sigmoid' }),
    dense({ units: 4 }),
  ]],
  ['2-D', [2, 11, 9], [
    conv({ channels: 3, kernel: [3, 2], stride: [1, 2], padding: [1, 0], dilation: [2, 1] }),
    activation('relu'),
    maxPool({ window: [2, 2] }),
    conv({ channels: 4, kernel: 2, activation: 'sigmoid' }),
    flatten(),
    activation('identity'),
    dense({ units: 5, activation: 'tanh', bias: false }),
    dense({ units: 3 }),
  ]],
  ['3-D', [2, 7, 6, 5], [
    conv({ channels: 3, kernel: 3, padding: [1, 0, 1], stride: [2, 1, 1], activation: 'relu' }),
    maxPool({ window: [2, 2, 1], stride: [1, 2, 1] }),
    conv({ channels: 2, kernel: [2, 1, 2], dilation: [1, 1, 2], activation: 'tanh' }),
    flatten(),
    dense({ units: 3 }),
  ]],
];

function randomInput(n: number, shape: number[], seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n * sizeOf(shape) }, () => rng.normal());
}

function softmaxRows(z: ArrayLike<number>, k: number): Float64Array {
  const out = new Float64Array(z.length);
  for (let r = 0; r < z.length / k; r++) {
    const row = Array.from({ length: k }, (_, j) => z[r * k + j]);
    const m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b);
    e.forEach((v, j) => (out[r * k + j] = v / s));
  }
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs(a[i] - b[i]));
  return d;
}

async function runOrt(bytes: Uint8Array, x: Float32Array, shape: number[]): Promise<Float32Array> {
  const session = await ort.InferenceSession.create(bytes);
  const out = await session.run({ input: new ort.Tensor('float32', x, shape) });
  return out.output.data as Float32Array;
}

/** The newer layers: average pooling, global pooling, residual blocks, more activations. */
const MORE: [string, number[], LayerSpec[]][] = [
  ['1-D residual', [2, 12], [
    conv({ channels: 3, kernel: 3, padding: 1, activation: { kind: 'leaky-relu', slope: 0.2 } }),
    residual([conv({ channels: 3, kernel: 3, padding: 1, activation: 'gelu-tanh' }), conv({ channels: 3, kernel: 3, padding: 1 })]),
    avgPool({ window: 3, stride: 2, padding: 1 }),
    globalAvgPool(),
    dense({ units: 3, activation: 'softplus' }),
  ]],
  ['2-D residual with projection', [2, 9, 8], [
    residual([conv({ channels: 4, kernel: 3, stride: 2, padding: 1, activation: 'relu' }), conv({ channels: 4, kernel: 3, padding: 1 })], { projection: true }),
    activation('relu'),
    maxPool({ window: 3, stride: 2 }),
    avgPool({ window: 2, padding: 1, countIncludePad: false }),
    flatten(),
    dense({ units: 3 }),
  ]],
  ['3-D global pooling, batch norm, dropout', [2, 5, 4, 6], [
    conv({ channels: 3, kernel: 2 }),
    batchNorm({ eps: 1e-3 }),
    activation('softplus'),
    avgPool({ window: [2, 1, 2] }),
    activation({ kind: 'leaky-relu', slope: 0.05 }),
    globalAvgPool(),
    dropout(0.5),
    dense({ units: 2 }),
  ]],
  ['2-D batch norm on features', [1, 6, 6], [
    conv({ channels: 2, kernel: 3, activation: 'relu' }),
    residual([batchNorm(), conv({ channels: 2, kernel: 3, padding: 1 })]),
    flatten(),
    dense({ units: 4 }),
    batchNorm({ momentum: 0.3 }),
    dropout(0.2),
    dense({ units: 3 }),
  ]],
];

describe.each(MORE)('ONNX export of a %s network', (_, inShape, specs) => {
  const net = new Network(cpuBackend('float32'), inShape, specs, { seed: 6 });
  for (const p of net.namedParameters()) if (p.name.endsWith('bias')) net.params.subarray(p.offset, p.offset + p.size).fill(0.1);
  // Running statistics away from their initial 0 and 1, so exporting the wrong ones would show.
  const stats = new Rng(8);
  for (const b of net.namedBuffers()) if (!b.integer) b.data.forEach((_, i) => (b.data[i] = b.name.endsWith('var') ? 0.5 + stats.uniform() : stats.normal()));
  const x = randomInput(3, inShape, 12);
  it('onnxruntime computes net.predict to 1e-5', async () => {
    expect(maxAbsDiff(await runOrt(networkToOnnx(net), x, [3, ...inShape]), net.predict(x, 3))).toBeLessThan(TOL);
  });
  if (specs.some((s) => s.kind === 'residual')) {
    it('exports a residual block (Add), which the importer refuses, naming the first node it cannot represent', () => {
      // gelu-tanh's Mul, or the block's Add (or its branch).
      expect(() => networkFromOnnx(networkToOnnx(net))).toThrow(/\((Add|Mul)\): operator (Add|Mul) is not supported|reads '[^']*', not the previous output/);
    });
  } else {
    it('ndcnn → ONNX → ndcnn keeps every parameter and the layers', () => {
      const { network } = networkFromOnnx(networkToOnnx(net));
      // Dropout leaves no node at inference, so the imported network has no dropout layer.
      const kept = net.specs.filter((s) => s.kind !== 'dropout');
      expect(network.specs.map((s) => s.kind)).toEqual(kept.map((s) => s.kind));
      if (kept.length === net.specs.length) expect(network.namedParameters()).toEqual(net.namedParameters());
      expect(network.params).toEqual(net.params);
      for (const [i, b] of network.namedBuffers().entries()) if (!b.integer) expect(b.data).toEqual(Float64Array.from(Float32Array.from(net.namedBuffers()[i].data)));
      expect(network.predict(x, 3)).toEqual(net.predict(x, 3));
    });
  }
});

describe.each(NETS)('ONNX export of a %s network', (_, inShape, specs) => {
  const net = new Network(cpuBackend('float32'), inShape, specs, { seed: 5 });
  // Non-zero biases, so a dropped bias would show.
  for (const p of net.namedParameters()) if (p.name.endsWith('bias')) net.params.subarray(p.offset, p.offset + p.size).fill(0.1);
  const n = 4;
  const x = randomInput(n, inShape, 11);

  it('onnxruntime computes net.predict to 1e-5', async () => {
    const y = await runOrt(networkToOnnx(net), x, [n, ...inShape]);
    expect(maxAbsDiff(y, net.predict(x, n))).toBeLessThan(TOL);
  });
  it('with softmax: onnxruntime computes the class probabilities', async () => {
    const y = await runOrt(networkToOnnx(net, { softmax: true }), x, [n, ...inShape]);
    expect(maxAbsDiff(y, softmaxRows(net.predict(x, n), net.outShape[0]))).toBeLessThan(TOL);
  });
  it('ndcnn → ONNX → ndcnn keeps every parameter exactly, under the same names', () => {
    const { network, softmax } = networkFromOnnx(networkToOnnx(net, { softmax: true }));
    expect(softmax).toBe(true);
    expect(network.namedParameters()).toEqual(net.namedParameters());
    expect(network.params).toEqual(net.params);
    expect(network.predict(x, n)).toEqual(net.predict(x, n));
  });
});

describe('a float64 network', () => {
  it('exports its parameters rounded to float32; onnxruntime agrees with its float64 predict to 1e-5', async () => {
    const [, inShape, specs] = NETS[1];
    const net = new Network(cpuBackend('float64'), inShape, specs, { seed: 9 });
    const x = randomInput(3, inShape, 2);
    const bytes = networkToOnnx(net);
    // Rounding the weights (relative 6e-8) and float32 arithmetic stay within the same bound.
    expect(maxAbsDiff(await runOrt(bytes, x, [3, ...inShape]), net.predict(x, 3))).toBeLessThan(TOL);
    expect(networkFromOnnx(bytes, { dtype: 'float64' }).network.params).toEqual(Float64Array.from(Float32Array.from(net.params)));
  });
});

describe('importing what torch.onnx.export wrote (PyTorch 1.13, fixtures)', () => {
  const record = JSON.parse(readFileSync(new URL('torch.json', FIXTURES), 'utf8'));
  it.each(['cnn1d', 'cnn2d', 'cnn3d', 'pool2d'])('%s reproduces PyTorch outputs and state-dict names', (name) => {
    const m = record.models[name];
    const { network, softmax } = networkFromOnnx(new URL(`torch-${name}.onnx`, FIXTURES).pathname);
    expect(network.namedParameters().map((p) => p.name)).toEqual(m.stateDictKeys);
    expect(network.inShape).toEqual(m.inShape);
    const n = m.input.length / sizeOf(m.inShape);
    const z = network.predict(Float32Array.from(m.input), n);
    expect(softmax).toBe(name === 'cnn3d');
    // Same float32 tolerance as above: PyTorch's and ndcnn's float32 kernels sum in different orders.
    expect(maxAbsDiff(softmax ? softmaxRows(z, network.outShape[0]) : z, m.output)).toBeLessThan(TOL);
  });
  it('in float64, the imported network has gradients and curvature to study (uᵀHv = vᵀHu)', () => {
    const m = record.models.cnn2d;
    const { network } = networkFromOnnx(new URL('torch-cnn2d.onnx', FIXTURES).pathname, { dtype: 'float64' });
    const batch = { x: Float64Array.from(m.input), y: Int32Array.from([0, 2, 1]), n: 3 };
    const g = new Float64Array(network.paramCount);
    expect(Number.isFinite(network.gradient(batch, g))).toBe(true);
    expect(g.some((v) => v !== 0)).toBe(true);
    const rng = new Rng(3);
    const u = Float64Array.from({ length: network.paramCount }, () => rng.normal());
    const v = Float64Array.from({ length: network.paramCount }, () => rng.normal());
    const hu = new Float64Array(network.paramCount);
    const hv = new Float64Array(network.paramCount);
    const c = network.curvature(batch);
    c.hv(u, hu);
    c.hv(v, hv);
    const dot = (a: Float64Array, b: Float64Array) => a.reduce((s, ai, i) => s + ai * b[i], 0);
    // The Hessian is symmetric; in float64 the two products agree to rounding (~1e-12 relative).
    expect(Math.abs(dot(u, hv) - dot(v, hu))).toBeLessThan(1e-10 * Math.abs(dot(u, hv)) + 1e-14);
  });
  it('the first unsupported operator is named, with its node', () => {
    expect(() => networkFromOnnx(new URL('torch-unsupported.onnx', FIXTURES).pathname)).toThrow(
      /torch-unsupported.onnx: node '\/4\/LogSoftmax' \(LogSoftmax\): operator LogSoftmax is not supported; ndcnn imports Conv, Gemm, /,
    );
  });
});

describe('ONNX graphs ndcnn cannot represent are refused with the reason', () => {
  const net = new Network(cpuBackend('float32'), [1, 6, 6], [conv({ channels: 2, kernel: 3, activation: 'relu' }), maxPool({ window: 2 }), flatten(), dense({ units: 2 })]);
  const edit = (change: (m: ReturnType<typeof decodeModel>) => void) => {
    const m = decodeModel(networkToOnnx(net), 'x');
    change(m);
    return encodeModel(m);
  };
  const attr = (m: ReturnType<typeof decodeModel>, op: string, name: string) => m.graph.node.find((n) => n.op_type === op)!.attribute!.find((a) => a.name === name)!;
  it.each([
    ['asymmetric pads', (m: ReturnType<typeof decodeModel>) => (attr(m, 'Conv', 'pads').ints = [0, 0, 1, 1]), /node '\/0\/Conv' \(Conv\): pads \[0, 0, 1, 1\] are asymmetric/],
    ['grouped convolution', (m: ReturnType<typeof decodeModel>) => (attr(m, 'Conv', 'group').i = 2), /\(Conv\): group=2 is not supported \(grouped convolution\)/],
    ['ceil-mode pooling', (m: ReturnType<typeof decodeModel>) => m.graph.node[2].attribute!.push({ name: 'ceil_mode', type: 2, i: 1 }), /\(MaxPool\): ceil_mode=1 is not supported/],
    ['a branch', (m: ReturnType<typeof decodeModel>) => (m.graph.node[3].input[0] = 'input'), /node '\/3\/Flatten' \(Flatten\): reads 'input', not the previous output .*chains of layers/],
    ['a weight computed at run time', (m: ReturnType<typeof decodeModel>) => (m.graph.node[0].input[1] = 'input'), /\(Conv\): its weight is not an initializer/],
  ])('%s', (_, change, message) => {
    expect(() => networkFromOnnx(edit(change))).toThrow(message);
  });
  it('bytes that are not ONNX', () => {
    expect(() => networkFromOnnx(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0x0f]))).toThrow(/onnx bytes: not an ONNX model/);
  });
});
