/**
 * What a model file may cost: sizes claimed by metadata are checked against stated limits
 * before anything of that size is allocated (limits.ts; a file's parameters are also bounded by
 * the values it holds), nesting is bounded, and the readers' peak memory is measured in child
 * processes against a bound of a small multiple of the arrays they return.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors, FormatError, loadNetwork, networkFromOnnx, networkToOnnx, networkToSafetensors } from '../../src/io/index.js';
import { decodeModel, encodeModel } from '../../src/io/onnx/proto.js';
import { conv, DEFAULT_LIMITS, dense, flatten, LimitError, MAX_NESTING, maxPool, residual, type LayerSpec } from '../../src/layers/index.js';
import { Network } from '../../src/network/index.js';
import { cpuBackend } from '../../src/nd/backends/cpu/index.js';
import { npyHeader, zipArchive } from './zip-builder.js';

const tmp = mkdtempSync(join(tmpdir(), 'ndcnn-io-limits-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));
const ROOT = new URL('../../', import.meta.url).pathname;
const B = cpuBackend('float32');

/** A safetensors file with no tensors and `arch` (JSON text, or an object to serialize) as its architecture. */
function archFile(arch: unknown): Uint8Array {
  return encodeSafetensors({}, { 'ndcnn.architecture': typeof arch === 'string' ? arch : JSON.stringify(arch) });
}
const arch = (inShape: number[], layers: unknown[]) => ({ format: 'ndcnn-network', version: 1, inShape, layers, loss: 'softmax-cross-entropy', dtype: 'float32' });

function nested(depth: number): LayerSpec {
  let s: LayerSpec = flatten();
  for (let i = 0; i < depth; i++) s = residual([s]);
  return s;
}

describe('sizes an architecture claims are checked before allocation, naming the file and the limit', () => {
  const file = join(tmp, 'claims.safetensors');
  it.each([
    ['10⁹ conv channels', arch([3, 8, 8], [conv({ channels: 1e9, kernel: 3 }), flatten()]), /^architecture: conv#0: brings the network to 28000000000 parameters, but the file holds only 0 tensor values$/],
    ['10⁹ dense units', arch([16], [dense({ units: 1e9 })]), /^architecture: dense#0: brings the network to 17000000000 parameters, but the file holds only 0 tensor values$/],
    ['a parameter count the file cannot fill', arch([1, 30, 30], [conv({ channels: 64, kernel: 5 }), flatten(), dense({ units: 100 })]), /^architecture: dense#2: brings the network to \d+ parameters, but the file holds only 0 tensor values$/],
    ['an input of 10¹⁰ values', arch([1e10], [dense({ units: 1 })]), /^architecture: network: the input \[10000000000\] holds 10000000000 values per sample, more than the limit of 268435456 \(limits\.activations\)$/],
    ['a 3-D input of 10¹² values', arch([1, 1e4, 1e4, 1e4], [flatten()]), /the input \[1, 10000, 10000, 10000\] holds 1000000000000 values per sample, more than the limit of 268435456/],
    ['activations that grow past the limit', arch([1, 2048, 2048], [conv({ channels: 64, kernel: 1 }), flatten()]), /^architecture: conv#0: brings the network to 272629760 values per sample \(input and layer outputs\), more than the limit of 268435456 \(limits\.activations\)$/],
    // Written as text: JSON.stringify itself overflows the stack on an object this deep.
    ['residual blocks nested 5000 deep', `{"format":"ndcnn-network","version":1,"inShape":[4],"layers":[${'{"kind":"residual","body":['.repeat(5000)}{"kind":"flatten"}${']}'.repeat(5000)}],"loss":"mse","dtype":"float32"}`, new RegExp(`^'ndcnn\\.architecture': nests objects and arrays more than ${2 * MAX_NESTING + 8} deep`)],
    [`residual blocks nested ${MAX_NESTING + 1} deep`, arch([4], [nested(MAX_NESTING + 1), dense({ units: 2 })]), new RegExp(`^architecture: network: residual blocks nest more than ${MAX_NESTING} deep$`)],
    ['20,000 layers', arch([4], [...Array.from({ length: 20_000 }, () => flatten()), dense({ units: 2 })]), /^architecture: network: more than the limit of 10000 layers \(limits\.layers\), counting those inside residual blocks$/],
    ['an option nested 10,000 deep', `{"format":"ndcnn-network","version":1,"inShape":[4],"layers":[{"kind":"dense","units":${'['.repeat(10_000)}${']'.repeat(10_000)}}],"loss":"mse","dtype":"float32"}`, /^'ndcnn\.architecture': nests objects and arrays more than \d+ deep \(at character \d+\)$/],
  ] as const)('%s', (_, a, problem) => {
    writeFileSync(file, archFile(a));
    let error: unknown;
    try {
      loadNetwork(file);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(FormatError);
    expect((error as FormatError).source).toBe(file);
    expect((error as FormatError).problem).toMatch(problem);
  });

  it('a network deeper than the limit by one level fits at the limit', () => {
    expect(new Network(B, [4], [nested(MAX_NESTING), dense({ units: 2 })]).paramCount).toBe(10);
  });

  it('limits can be lowered or raised, on a network and on loading', () => {
    const specs = [conv({ channels: 4, kernel: 3 }), flatten(), dense({ units: 2 })];
    const net = new Network(B, [1, 6, 6], specs);
    expect(() => new Network(B, [1, 6, 6], specs, { limits: { parameters: 100 } })).toThrow(new LimitError('dense#2: brings the network to 170 parameters, more than the limit of 100 (limits.parameters)', 'parameters', 170, 100));
    expect(() => loadNetwork(networkToSafetensors(net), { limits: { activations: 100 } })).toThrow(/^safetensors bytes: architecture: flatten#1: brings the network to 164 values per sample \(input and layer outputs\), more than the limit of 100 \(limits\.activations\)$/);
    expect(loadNetwork(networkToSafetensors(net), { limits: { activations: 2000 } }).params).toEqual(net.params);
    // Raised above the default: a network of 2^28 + 2 values per sample builds (nothing that large is allocated until it runs).
    const big = new Network(B, [1, 2 ** 14, 2 ** 14], [maxPool({ window: 2 ** 14 }), flatten()], { limits: { activations: DEFAULT_LIMITS.activations + 2 } });
    expect(big.outShape).toEqual([1]);
  });

  it('bad limits are refused', () => {
    expect(() => new Network(B, [4], [flatten()], { limits: { parameters: 0 } })).toThrow('network: limits.parameters must be a positive integer, got 0');
    expect(() => new Network(B, [4], [flatten()], { limits: { params: 5 } as never })).toThrow("network: unknown limit 'params' (known: parameters, activations, layers)");
    expect(() => new Network(B, [4], [flatten()], { limits: 5 as never })).toThrow('network: limits must be an object {parameters, activations, layers}, got 5');
  });

  it('a spec that contains itself is refused, not a stack overflow', () => {
    const loop: { kind: 'residual'; body: LayerSpec[] } = { kind: 'residual', body: [] };
    loop.body.push(loop);
    expect(() => new Network(B, [4], [loop, dense({ units: 1 })])).toThrow(`network: residual blocks nest more than ${MAX_NESTING} deep`);
  });

  it('ONNX: a graph input of 10¹⁰ values, and a kernel_shape its weights cannot fill', () => {
    const net = new Network(B, [1, 6, 6], [conv({ channels: 2, kernel: 3, activation: 'relu' }), flatten(), dense({ units: 2 })]);
    const m = decodeModel(networkToOnnx(net), 'x');
    m.graph.input[0].type!.tensor_type!.shape!.dim![2].dim_value = 1e5;
    m.graph.input[0].type!.tensor_type!.shape!.dim![3].dim_value = 1e5;
    expect(() => networkFromOnnx(encodeModel(m))).toThrow(/^onnx bytes: architecture: network: the input \[1, 100000, 100000\] holds 10000000000 values per sample, more than the limit of 268435456 \(limits\.activations\)$/);
    const k = decodeModel(networkToOnnx(net), 'x');
    k.graph.node[0].attribute!.find((a) => a.name === 'kernel_shape')!.ints = [3000, 3000];
    k.graph.input[0].type!.tensor_type!.shape!.dim![2].dim_value = 3000;
    k.graph.input[0].type!.tensor_type!.shape!.dim![3].dim_value = 3000;
    expect(() => networkFromOnnx(encodeModel(k))).toThrow(/^onnx bytes: architecture: conv#0: brings the network to 18000002 parameters, but the file holds only \d+ tensor values$/);
  });
});

/** Peak resident memory of a child decoding `file` (fixtures/decode-peak.ts), in bytes. */
function peak(kind: 'npy' | 'npz' | 'safetensors' | 'onnx' | 'loadNetwork' | 'networkFromOnnx', file: string): { growth: number; output: number } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'test/io/fixtures/decode-peak.ts'), kind, file], { cwd: ROOT, encoding: 'utf8' });
  expect(r.status, r.stderr).toBe(0);
  const { before, after, output } = JSON.parse(r.stdout);
  return { growth: (after - before) * 1024, output };
}

describe('peak memory of the readers, measured in a child process', () => {
  // The bound: the arrays themselves, 10 % more, and 24 MiB for the allocator and V8. Inflating
  // into a buffer and then copying the array out (the reader before issue 22) takes 2×.
  const bound = (output: number) => 1.1 * output + 24 * 2 ** 20;

  it('an .npz member that inflates 1000× (128 MiB from 130 kB) peaks at about the array it becomes', () => {
    const n = 2 ** 25;
    const file = join(tmp, 'bomb.npz');
    writeFileSync(file, zipArchive([{ name: 'zeros.npy', method: 8, data: Buffer.concat([npyHeader('<f4', [n]), Buffer.alloc(4 * n)]) }]));
    const { growth, output } = peak('npz', file);
    expect(output).toBe(4 * n);
    expect(growth).toBeLessThan(bound(output));
  });

  it('two stored members of 32 MiB each: the file plus the arrays', () => {
    const n = 2 ** 22;
    const member = (name: string) => ({ name, data: Buffer.concat([npyHeader('<f8', [n]), Buffer.from(Float64Array.from({ length: n }, (_, i) => i).buffer)]) });
    const file = join(tmp, 'stored.npz');
    writeFileSync(file, zipArchive([member('a.npy'), member('b.npy')]));
    const { growth, output } = peak('npz', file);
    expect(output).toBe(2 * 8 * n);
    expect(growth).toBeLessThan(bound(output));
  });

  it('a 64 MiB .npy array', () => {
    const n = 2 ** 23;
    const file = join(tmp, 'big.npy');
    writeFileSync(file, Buffer.concat([npyHeader('<f8', [n]), Buffer.from(Float64Array.from({ length: n }, (_, i) => i).buffer)]));
    const { growth, output } = peak('npy', file);
    expect(output).toBe(8 * n);
    expect(growth).toBeLessThan(bound(output));
  });

  it('a 64 MiB safetensors tensor', () => {
    const n = 2 ** 24;
    const file = join(tmp, 'big.safetensors');
    writeFileSync(file, encodeSafetensors({ w: { dtype: 'F32', shape: [n], data: new Float32Array(n).fill(0.5) } }));
    const { growth, output } = peak('safetensors', file);
    expect(output).toBe(4 * n);
    expect(growth).toBeLessThan(bound(output));
  });

  // A FLOAT initializer comes back as a Float32Array of its values. Before issue 22 it came back
  // as float64 (twice the file's values), and decoded as protobufjs declares float_data, a JS
  // array that grows and a copy of it took 4× that float64 output (measured); raw_data, 1.5×.
  it.each(['raw_data', 'float_data'] as const)('a 32 MiB ONNX initializer in %s', (field) => {
    const n = 2 ** 23;
    const m = decodeModel(networkToOnnx(new Network(B, [4], [dense({ units: 2 })])), 'x');
    const w = m.graph.initializer![0];
    const values = Buffer.from(Float32Array.from({ length: n }, (_, i) => i / n).buffer);
    w.dims = [2 ** 11, 2 ** 12];
    if (field === 'raw_data') w.raw_data = values;
    else {
      w.float_data = [values];
      delete w.raw_data;
    }
    const file = join(tmp, `big-${field}.onnx`);
    writeFileSync(file, encodeModel(m));
    const { growth, output } = peak('onnx', file);
    expect(output).toBe(4 * n + 4 * 2);
    expect(growth).toBeLessThan(bound(output));
  });

  // Rebuilding a network keeps the decoded values and the network at once, so the output here is
  // the network's parameters and the bound counts each copy: the file's values decoded (1×, as
  // float32) plus the network (1×),
  // 10 % more, and 96 MiB for V8 and the allocator (measured 40–70 MiB whatever the size:
  // loadStateDict of a 4 MiB network already grows the peak by 38 MiB).
  describe('rebuilding a 64 MiB float32 network (16M parameters)', () => {
    const net = new Network(B, [4096], [dense({ units: 4096 })]);
    net.init(3);
    it.each([
      ['loadNetwork', 'safetensors', () => networkToSafetensors(net)],
      ['networkFromOnnx', 'onnx', () => networkToOnnx(net)],
    ] as const)('%s', (kind, ext, write) => {
      const file = join(tmp, `network.${ext}`);
      writeFileSync(file, write());
      const { growth, output } = peak(kind, file);
      expect(output).toBe(net.params.byteLength);
      expect(growth).toBeLessThan(1.1 * 2 * output + 96 * 2 ** 20);
    });
  });
});
