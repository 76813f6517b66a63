/**
 * The engines of the convolution workloads W1–W3. Each prepares one workload's tensors and
 * returns a forward call and a backward call (gradient w.r.t. the input and the filter), or the
 * reason it cannot run the workload.
 */
import type * as TF from '@tensorflow/tfjs-core';
import { cpuBackend } from '../src/nd/backends/cpu/index.js';
import { ConvGeometry } from '../src/nd/geometry.js';
import { Rng } from '../src/nd/rng.js';
import { naiveBackData, naiveBackFilter, naiveConv, type NaiveShape } from './naive.js';
import { outSize, type ConvWorkload } from './workloads.js';

export interface ConvRunner {
  forward(): void;
  backward(): void;
  dispose(): void;
}

export interface ConvEngine {
  name: string;
  /** A runner, or why this engine cannot run the workload. */
  prepare(w: ConvWorkload): ConvRunner | string;
}

function random(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.normal();
  return a;
}

const prod = (a: number[]): number => a.reduce((p, v) => p * v, 1);

function sizes(w: ConvWorkload) {
  const out = outSize(w);
  return {
    x: w.n * w.cin * prod(w.size),
    y: w.n * w.cout * prod(out),
    w: w.cout * w.cin * prod(w.kernel),
    out,
  };
}

/** ndcnn's CPU backend in float32, through the Backend primitives the layers use. */
export const ndcnnEngine: ConvEngine = {
  name: 'ndcnn',
  prepare(w) {
    const B = cpuBackend('float32');
    const g = new ConvGeometry(w.id, [w.cin, ...w.size], { channels: w.cout, kernel: w.kernel });
    const s = sizes(w);
    const x = B.upload(g.inShape(w.n), random(s.x, 1));
    const k = B.upload(g.weightShape(), random(s.w, 2));
    const dy = B.upload(g.outShape(w.n), random(s.y, 3));
    const y = B.zeros(g.outShape(w.n));
    const dx = B.zeros(g.inShape(w.n));
    const dk = B.zeros(g.weightShape());
    return {
      forward: () => B.conv(y, x, k, g, false),
      backward: () => {
        B.convBackData(dx, dy, k, g, false);
        B.convBackFilter(dk, x, dy, g, false);
      },
      dispose: () => {},
    };
  },
};

/** The floor: the definition's nested loops (bench/naive.ts). */
export const naiveEngine: ConvEngine = {
  name: 'naive-js',
  prepare(w) {
    const lift = (a: number[]): [number, number, number] => [...Array(3 - a.length).fill(1), ...a] as [number, number, number];
    const shape: NaiveShape = { n: w.n, cin: w.cin, cout: w.cout, in3: lift(w.size), k3: lift(w.kernel) };
    const s = sizes(w);
    const x = random(s.x, 1);
    const k = random(s.w, 2);
    const dy = random(s.y, 3);
    const y = new Float32Array(s.y);
    const dx = new Float32Array(s.x);
    const dk = new Float32Array(s.w);
    return {
      forward: () => naiveConv(y, x, k, shape),
      backward: () => {
        naiveBackData(dx, dy, k, shape);
        naiveBackFilter(dk, x, dy, shape);
      },
      dispose: () => {},
    };
  },
};

/**
 * TF.js on one of its backends. Layout is channels-last (TF.js has no channels-first conv on
 * CPU); 1-D runs as 2-D with height 1, as tf.conv1d does itself. The gradients are the
 * backprop kernels called directly, so backward does not include a forward pass.
 */
export function tfjsEngine(tf: typeof TF, backend: string): ConvEngine {
  return {
    name: `tfjs-${backend}`,
    prepare(w) {
      const need = w.size.length === 3 ? ['Conv3D', 'Conv3DBackpropInputV2', 'Conv3DBackpropFilterV2'] : ['Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'];
      const missing = need.filter((k) => tf.getKernel(k, backend) === undefined);
      const s = sizes(w);
      // Spatial shapes with 1-D lifted to 2-D.
      const sp = w.size.length === 1 ? [1, ...w.size] : w.size;
      const ks = w.kernel.length === 1 ? [1, ...w.kernel] : w.kernel;
      const os = s.out.length === 1 ? [1, ...s.out] : s.out;
      const x = tf.tensor(random(s.x, 1), [w.n, ...sp, w.cin]);
      const k = tf.tensor(random(s.w, 2), [...ks, w.cin, w.cout]);
      const dy = tf.tensor(random(s.y, 3), [w.n, ...os, w.cout]);
      const run = (name: string, inputs: Record<string, TF.Tensor>, attrs: Record<string, unknown>) => {
        const out = tf.engine().runKernel(name, inputs as never, attrs as never) as TF.Tensor;
        out.dataSync();
        out.dispose();
      };
      const strides = sp.length === 3 ? [1, 1, 1] : [1, 1];
      const common = { strides, pad: 'valid', dataFormat: sp.length === 3 ? 'NDHWC' : 'NHWC', dilations: strides, dimRoundingMode: undefined };
      const [fwd, bwdIn, bwdFilter] = need;
      const dispose = () => tf.dispose([x, k, dy]);
      if (missing.length === need.length) {
        dispose();
        return `no ${backend} kernel for ${missing.join(', ')}`;
      }
      return {
        forward: () => run(fwd, { x, filter: k }, common),
        backward: () => {
          if (missing.length > 0) throw new Error(`no ${backend} kernel for ${missing.join(', ')}`);
          run(bwdIn, { dy, filter: k }, { ...common, inputShape: x.shape });
          run(bwdFilter, { x, dy }, { ...common, filterShape: k.shape });
        },
        dispose,
      };
    },
  };
}
