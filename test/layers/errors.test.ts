/** Bad input throws an error naming the layer and showing the shapes involved. */
import { describe, expect, it } from 'vitest';
import { conv, dense, flatten, maxPool, type LayerSpec } from '../../src/layers/index.js';
import { Network } from '../../src/network/index.js';
import { cpuBackend } from '../../src/nd/backends/cpu/index.js';
import { ConvGeometry } from '../../src/nd/geometry.js';

const B = cpuBackend('float64');
const build = (inShape: number[], specs: LayerSpec[]) => () => new Network(B, inShape, specs);

describe('shape errors name the layer and print the shapes', () => {
  it('kernel larger than the padded input', () => {
    expect(build([1, 4, 4], [conv({ channels: 2, kernel: 5 }), flatten()])).toThrow(/conv#0: kernel \[5, 5\].*larger than the padded input \[1, 4, 4\]/);
    expect(build([1, 4, 4], [conv({ channels: 2, kernel: 3, dilation: 2 }), flatten()])).toThrow(/conv#0: .*extent 5/);
    expect(build([1, 4, 4], [conv({ channels: 2, kernel: 5, padding: 1 }), flatten()])).not.toThrow();
  });
  it('non-integer and non-positive sizes', () => {
    expect(build([1, 8], [conv({ channels: 2.5, kernel: 3 }), flatten()])).toThrow(/conv#0: output channels must be positive integers, got \[2.5\]/);
    expect(build([1, 8], [conv({ channels: 2, kernel: 0 }), flatten()])).toThrow(/conv#0: kernel sizes must be positive integers, got \[0\]/);
    expect(build([1, 8], [conv({ channels: 2, kernel: 3, stride: -1 }), flatten()])).toThrow(/conv#0: strides/);
    expect(build([1, 8], [conv({ channels: 2, kernel: 3, padding: 0.5 }), flatten()])).toThrow(/conv#0: paddings must be non-negative/);
    expect(build([1, 0], [flatten()])).toThrow('network: input sizes must be positive integers, got [1, 0]');
    expect(build([4], [dense({ units: 0 })])).toThrow(/dense#0: units must be positive integers, got \[0\]/);
  });
  it('per-axis options of the wrong rank', () => {
    expect(build([1, 8, 8], [conv({ channels: 2, kernel: [3, 3, 3] }), flatten()])).toThrow(/conv#0: kernel \[3, 3, 3\] has 3 axes but the input has 2 spatial axes/);
    expect(build([1, 8, 8], [maxPool({ window: [2] }), flatten()])).toThrow(/maxPool#0: window \[2\] has 1 axes/);
  });
  it('a pooling window larger than its input', () => {
    expect(build([1, 3, 8], [maxPool({ window: 4 }), flatten()])).toThrow(/maxPool#0: window \[4, 4\] is larger than the input \[1, 3, 8\]/);
  });
  it('a network without layers', () => {
    expect(build([4], [])).toThrow('network: no layers given');
  });
  it('a dense layer on a spatial input, and a network that does not end flat', () => {
    expect(build([2, 4, 4], [dense({ units: 3 })])).toThrow(/dense#0: input \[2, 4, 4\] is not flat; put flatten\(\) before/);
    expect(build([2, 4, 4], [conv({ channels: 1, kernel: 1 })])).toThrow(/output \[1, 4, 4\] must be flat/);
  });
  it('wrong channel count reaching a backend primitive', () => {
    const g = new ConvGeometry('conv#3', [3, 6, 6], { channels: 2, kernel: 3 });
    const x = B.zeros([1, 2, 6, 6]);
    expect(() => B.conv(B.zeros(g.outShape(1)), x, B.zeros(g.weightShape()), g, false)).toThrow(
      /conv: input \[1, 2, 6, 6\], output \[1, 2, 4, 4\], weights \[2, 3, 3, 3\] do not fit the geometry \(expects \[1, 3, 6, 6\]/,
    );
  });
});

describe('batch errors', () => {
  const net = new Network(B, [1, 6, 6], [conv({ channels: 2, kernel: 3 }), flatten(), dense({ units: 3 })]);
  const x = new Float64Array(2 * 36);
  it('inputs of the wrong size', () => {
    expect(() => net.loss({ x: new Float64Array(50), y: new Int32Array(2), n: 2 })).toThrow(
      /network input: a batch of 2 samples of shape \[1, 6, 6\] needs 72 values, got 50/,
    );
  });
  it('labels out of range or not integers', () => {
    expect(() => net.loss({ x, y: Int32Array.from([0, 3]), n: 2 })).toThrow(/label 3 of sample 1 is outside 0..2 \(outputs \[2, 3\]\)/);
    expect(() => net.loss({ x, y: Float64Array.from([0, 1.5]), n: 2 })).toThrow(/label 1.5 of sample 1/);
    expect(() => net.loss({ x, y: Int32Array.from([0]), n: 2 })).toThrow(/1 labels for 2 samples/);
  });
  it('NaN and infinite inputs when checking (the default), and not when asked not to', () => {
    const bad = x.slice();
    bad[40] = NaN;
    expect(() => net.loss({ x: bad, y: new Int32Array(2), n: 2 })).toThrow(/sample 1 of batch \[2, 1, 6, 6\] holds NaN at element 4/);
    bad[40] = -Infinity;
    expect(() => net.loss({ x: bad, y: new Int32Array(2), n: 2 })).toThrow(/holds -Infinity/);
    const unchecked = new Network(B, [1, 6, 6], net.specs, { checkInputs: false });
    expect(Number.isNaN(unchecked.loss({ x: bad.fill(NaN), y: new Int32Array(2), n: 2 }))).toBe(true);
  });
  it('parameter vectors of the wrong length', () => {
    expect(() => net.setParams(new Float64Array(3))).toThrow(`setParams: params has 3 values, the network has ${net.paramCount}`);
  });
  it('mse targets of the wrong size', () => {
    const m = new Network(B, [4], [dense({ units: 2 })], { loss: 'mse' });
    expect(() => m.loss({ x: new Float64Array(8), y: new Float64Array(3), n: 2 })).toThrow(/mse: 3 targets for outputs \[2, 2\] \(need 4\)/);
  });
});
