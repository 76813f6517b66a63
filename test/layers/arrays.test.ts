/**
 * Every public entry point takes any array-like of numbers, converting to the network's dtype,
 * and refuses anything else with a TypeError naming the entry point and argument; outputs go into
 * a Float32Array, Float64Array or number[] of the right length.
 */
import { describe, expect, it } from 'vitest';
import { conv, cpuBackend, dense, flatten, MiniBatches, Network, Rng, type Output } from '../../src/index.js';

const specs = [conv({ channels: 2, kernel: 3, activation: 'tanh' as const }), flatten(), dense({ units: 3 })];
const net32 = new Network(cpuBackend('float32'), [1, 5, 5], specs);
const P = net32.paramCount;
const rng = new Rng(4);
const xs = Array.from({ length: 2 * 25 }, () => rng.normal());
const labels = [0, 2];
const x32 = Float32Array.from(xs);
const batch32 = { x: x32, y: Int32Array.from(labels), n: 2 };

describe('inputs: any array-like of numbers', () => {
  it('predict takes number[], Float64Array, Float32Array and integer typed arrays, inferring n', () => {
    const ref = net32.predict(x32, 2);
    expect(ref).toBeInstanceOf(Float32Array);
    // The float32 network rounds every input to float32 first, so all four give identical outputs.
    expect(net32.predict(xs)).toEqual(ref);
    expect(net32.predict(Float64Array.from(xs), 2)).toEqual(ref);
    const ints = Uint8Array.from({ length: 25 }, (_, i) => i);
    expect(net32.predict(ints)).toEqual(net32.predict(Array.from(ints)));
  });

  it('a float64 network widens Float32Array inputs exactly', () => {
    const net64 = new Network(cpuBackend('float64'), [1, 5, 5], specs);
    expect(net64.predict(x32)).toEqual(net64.predict(Float64Array.from(x32)));
    expect(net64.predict(x32)).toBeInstanceOf(Float64Array);
  });

  it('loss and gradient take number[] inputs and labels', () => {
    const g = new Float32Array(P);
    const loss = net32.gradient(batch32, g);
    const g2 = new Float32Array(P);
    expect(net32.gradient({ x: xs, y: labels, n: 2 }, g2)).toBe(loss);
    expect(g2).toEqual(g);
    expect(net32.loss({ x: xs, y: labels, n: 2 })).toBe(loss);
  });

  it('setParams converts number[] and Float64Array', () => {
    const net = new Network(cpuBackend('float32'), [1, 5, 5], specs);
    const p = Array.from({ length: P }, (_, i) => Math.sin(i) / 3);
    net.setParams(p);
    expect(net.params).toEqual(Float32Array.from(p));
    net.setParams(Float64Array.from(p, (v) => -v));
    expect(net.params).toEqual(Float32Array.from(p, (v) => -v));
  });

  it('MiniBatches take number[] data and yield Float64Array batches', () => {
    const mb = new MiniBatches({ x: xs, y: labels, sampleSize: 25 }, 2, new Rng(1));
    const [b] = [...mb.epoch()];
    expect(b.x).toBeInstanceOf(Float64Array);
    expect(b.y).toBeInstanceOf(Float64Array);
    expect(net32.loss(b)).toBe(net32.loss(batch32));
  });
});

describe('outputs: Float32Array, Float64Array or number[] of the parameter count', () => {
  const g = new Float32Array(P);
  net32.gradient(batch32, g);
  const curv = net32.curvature(batch32);
  const v = Array.from({ length: P }, () => rng.normal());
  const hv = new Float32Array(P);
  curv.hv(Float32Array.from(v), hv);
  const gv = new Float32Array(P);
  curv.gv(Float32Array.from(v), gv);

  it.each([
    ['Float64Array', () => new Float64Array(P)],
    ['number[]', () => new Array<number>(P).fill(7)],
  ] as [string, () => Output][])('gradient, hv, gv and sumSquaredGradients into a %s hold the float32 results', (_, make) => {
    const out = make();
    net32.gradient(batch32, out);
    expect(Array.from(out)).toEqual(Array.from(g));
    curv.hv(v, out);
    expect(Array.from(out)).toEqual(Array.from(hv));
    curv.gv(Float64Array.from(v), out);
    expect(Array.from(out)).toEqual(Array.from(gv));
    const s32 = new Float32Array(P);
    net32.sumSquaredGradients(batch32, s32);
    net32.sumSquaredGradients(batch32, out);
    expect(Array.from(out)).toEqual(Array.from(s32));
  });

  it('refuses outputs that cannot hold the results, naming both lengths', () => {
    expect(() => net32.gradient(batch32, new Int32Array(P) as never)).toThrow(
      new TypeError(`gradient: grad (an output) must be a Float32Array, Float64Array or number[], got Int32Array(${P})`),
    );
    expect(() => net32.gradient(batch32, new Float32Array(P - 1))).toThrow(`gradient: grad has ${P - 1} values, the network has ${P}`);
    expect(() => curv.hv(new Float32Array(3), hv)).toThrow(`hv: v has 3 values, the network has ${P}`);
    expect(() => curv.gv(v, new Float64Array(2))).toThrow(`gv: out has 2 values, the network has ${P}`);
  });
});

describe('refusals name the entry point and argument', () => {
  it('non-arrays and non-numbers', () => {
    expect(() => net32.predict('abc' as never)).toThrow(/^predict: x must be an array of numbers .*got string$/);
    expect(() => net32.predict({ length: 2 } as never)).toThrow(/predict: x\[0\] is undefined, not a number/);
    expect(() => net32.predict([...xs.slice(0, 24), '1'] as never)).toThrow('predict: x[24] is "1", not a number');
    expect(() => net32.predict(new BigInt64Array(25) as never)).toThrow(/got BigInt64Array\(25\)/);
    expect(() => net32.loss({ x: xs, y: 'ab', n: 2 } as never)).toThrow(/^loss: batch\.y must be an array of numbers/);
    expect(() => net32.loss(null as never)).toThrow('loss: the batch must be an object {x, y, n}, got null');
    expect(() => net32.setParams(new Array(P).fill('0') as never)).toThrow('setParams: params[0] is "0", not a number');
    expect(() => new MiniBatches({ x: 'abc', y: [1], sampleSize: 1 } as never, 1, new Rng(1))).toThrow(/MiniBatches: x must be an array of numbers/);
  });

  it('shape mismatches name both sizes', () => {
    expect(() => net32.predict(new Float32Array(26))).toThrow('predict: x has 26 values, not a whole number of samples of shape [1, 5, 5] (25 values each)');
    expect(() => net32.predict(new Float32Array(50), 3)).toThrow('predict: 3 samples of shape [1, 5, 5] need 75 values, x has 50');
    expect(() => net32.predict(x32, 2, 0)).toThrow('predict: chunk must be a positive integer, got 0');
  });

  it('NaN: parameters refused by setParams; mse targets refused with the inputs check', () => {
    const p = new Float64Array(P);
    p[5] = NaN;
    expect(() => net32.setParams(p)).toThrow('setParams: params[5] is NaN; only finite numbers are allowed');
    p[5] = -1e39; // finite in float64, -Infinity in this float32 network
    expect(() => net32.setParams(p)).toThrow('setParams: params hold -1e+39 at element 5, which overflows float32 to -Infinity');
    expect(() => net32.init(0.5)).toThrow('network.init: seed must be an integer, got 0.5');
    const mse = new Network(cpuBackend('float64'), [4], [dense({ units: 2 })], { loss: 'mse' });
    expect(() => mse.loss({ x: new Float64Array(4), y: [1, NaN], n: 1 })).toThrow('network targets: batch.y[1] is NaN; only finite numbers are allowed');
  });
});
