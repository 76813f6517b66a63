/**
 * PyTorch names and state dicts. The expected names are what torch 1.13 prints for the
 * equivalent nn.Sequential (test/io/fixtures/make_fixtures.py records them for the fixture
 * networks; the ONNX import test checks those against torch's own export).
 */
import { describe, expect, it } from 'vitest';
import { activation, conv, dense, flatten, layerTensors, maxPool, type Layer, type LayerBuffer } from '../../src/layers/index.js';
import { Network } from '../../src/network/index.js';
import { cpuBackend } from '../../src/nd/backends/cpu/index.js';

const B = cpuBackend('float64');

describe('PyTorch nn.Sequential names', () => {
  it('a fused activation takes its own slot: Sequential(Conv2d, ReLU, MaxPool2d, Flatten, Linear)', () => {
    const net = new Network(B, [1, 6, 6], [conv({ channels: 2, kernel: 3, activation: 'relu' }), maxPool({ window: 2 }), flatten(), dense({ units: 3 })]);
    expect(net.namedParameters().map((p) => [p.name, p.shape, p.offset])).toEqual([
      ['0.weight', [2, 1, 3, 3], 0],
      ['0.bias', [2], 18],
      ['4.weight', [3, 8], 20],
      ['4.bias', [3], 44],
    ]);
  });
  it('identity fused adds no slot; standalone activations, bias-free layers', () => {
    const net = new Network(B, [2, 8], [
      conv({ channels: 3, kernel: 3, bias: false }),
      activation('tanh'),
      conv({ channels: 2, kernel: 2, activation: 'sigmoid' }),
      flatten(),
      dense({ units: 4, activation: 'identity' }),
      activation('identity'),
      dense({ units: 2 }),
    ]);
    expect(net.namedParameters().map((p) => p.name)).toEqual(['0.weight', '2.weight', '2.bias', '5.weight', '5.bias', '7.weight', '7.bias']);
    expect(net.namedParameters().at(-1)!.offset + 2).toBe(net.paramCount);
  });
  it('containers and buffers: dotted names under the container slot', () => {
    const bn: LayerBuffer[] = [{ name: 'running_mean', shape: [2], data: new Float64Array(2) }];
    const fake = (over: Partial<Layer>) => ({ paramShapes: [], ...over }) as unknown as Layer;
    const layers = [
      fake({ paramShapes: [[2, 1, 3]], modules: 2 }),
      fake({ paramShapes: [[2], [2]], buffers: bn }),
      fake({ paramShapes: [[2, 2, 1]], paramNames: ['body.0.weight'] }),
    ];
    const t = layerTensors(layers);
    expect(t.map((l) => l.params.map((p) => `${p.name}@${p.offset}`))).toEqual([['0.weight@0'], ['2.weight@6', '2.bias@8'], ['3.body.0.weight@10']]);
    expect(t[1].buffers.map((b) => b.name)).toEqual(['2.running_mean']);
    expect(t[1].buffers[0].data).toBe(bn[0].data);
  });
});

describe('stateDict / loadStateDict', () => {
  const specs = [conv({ channels: 2, kernel: 3, activation: 'relu' }), flatten(), dense({ units: 3 })];
  it('round-trips exactly between networks of different seeds, and copies', () => {
    const a = new Network(B, [1, 5], specs, { seed: 1 });
    const b = new Network(B, [1, 5], specs, { seed: 2 });
    expect(b.params).not.toEqual(a.params);
    const dict = a.stateDict();
    expect(Object.keys(dict)).toEqual(['0.weight', '0.bias', '3.weight', '3.bias']);
    b.loadStateDict(dict);
    expect(b.params).toEqual(a.params);
    (dict['0.weight'].data as Float64Array)[0] += 1;
    expect(a.params[0]).toBe(b.params[0]);
  });
  it('converts float64 dicts into a float32 network', () => {
    const a = new Network(B, [1, 5], specs);
    const c = new Network(cpuBackend('float32'), [1, 5], specs, { seed: 3 });
    c.loadStateDict(a.stateDict());
    expect(c.params).toEqual(Float32Array.from(a.params));
  });
  it('refuses unknown, missing and mis-shaped tensors, naming them, and changes nothing', () => {
    const a = new Network(B, [1, 5], specs);
    const before = a.params.slice();
    const dict = a.stateDict();
    expect(() => a.loadStateDict({ ...dict, '9.weight': { shape: [1], data: [0] } })).toThrow(/unknown tensor '9.weight' \(the network has 0.weight, 0.bias, 3.weight, 3.bias\)/);
    const { ['3.bias']: _, ...partial } = dict;
    expect(() => a.loadStateDict(partial)).toThrow("loadStateDict: missing tensor '3.bias'");
    const wrong = { ...dict, '0.bias': { shape: [1, 2], data: [5, 5] }, '0.weight': { shape: [2, 1, 3], data: new Float64Array(6).fill(7) } };
    expect(() => a.loadStateDict(wrong)).toThrow("loadStateDict: '0.bias' has shape [2] in the network, [1, 2] given");
    expect(() => a.loadStateDict({ ...dict, '0.bias': { shape: [2], data: [1] } })).toThrow("'0.bias' of shape [2] needs 2 values, 1 given");
    expect(() => a.loadStateDict({ ...dict, '0.bias': { shape: [2], data: [1, NaN] } })).toThrow("'0.bias' holds NaN at element 1");
    expect(a.params).toEqual(before);
  });
});
