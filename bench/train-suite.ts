/**
 * W4 (a LeNet training step), W5 (one Gv and one Hv product on W4's net and batch) and the
 * curvature bench (gradient, Hv, Gv, and Gv on a cached forward pass, for W4's net and a
 * small 3-D net), on ndcnn; W4 also on TF.js.
 */
import type * as TF from '@tensorflow/tfjs-core';
import { Rng } from '../src/nd/rng.js';
import { measureOrProbe, type Timing } from './measure.js';
import { lenet, randomBatch, sgdStep, small3d } from './nets.js';
import { TFJS_BACKENDS, tf, useTfjs } from './tfjs.js';
import { LENET, SMALL3D } from './workloads.js';
import type { Network } from '../src/network/index.js';

export interface TrainResult {
  workload: string;
  engine: string;
  timing?: Timing;
  note?: string;
}

export interface CurvatureResult {
  net: string;
  gradient: Timing;
  hv: Timing;
  gv: Timing;
  gvCached: Timing;
  hvOverGrad: number;
  gvOverGrad: number;
  gvCachedOverGrad: number;
}

function direction(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.normal();
  return v;
}

function curvatureBench(name: string, net: Network, n: number, classes: number): CurvatureResult {
  const batch = randomBatch(net, n, classes, 2);
  const grad = new Float32Array(net.paramCount);
  const v = direction(net.paramCount, 3);
  const out = new Float32Array(net.paramCount);
  const gradient = measureOrProbe(`${name} gradient`, () => net.gradient(batch, grad));
  // Each uncached product prepares its own forward pass, as a fresh curvature batch does.
  const hv = measureOrProbe(`${name} Hv`, () => net.curvature(batch).hv(v, out));
  const gv = measureOrProbe(`${name} Gv`, () => net.curvature(batch).gv(v, out));
  const cached = net.curvature(batch);
  const gvCached = measureOrProbe(`${name} Gv cached`, () => cached.gv(v, out));
  return {
    net: name, gradient, hv, gv, gvCached,
    hvOverGrad: hv.ms / gradient.ms, gvOverGrad: gv.ms / gradient.ms, gvCachedOverGrad: gvCached.ms / gradient.ms,
  };
}

/** W4 in TF.js: the same net in channels-last layout, tf.train.sgd minimising the mean cross-entropy. */
function tfjsStep(t: typeof TF): () => void {
  const rng = new Rng(5);
  const init = (shape: number[], fanIn: number) => {
    const a = new Float32Array(shape.reduce((p, v) => p * v, 1));
    for (let i = 0; i < a.length; i++) a[i] = rng.normal() * Math.sqrt(2 / fanIn);
    return t.variable(t.tensor(a, shape));
  };
  const w1 = init([5, 5, 1, 8], 25);
  const b1 = t.variable(t.zeros([8]));
  const w2 = init([5, 5, 8, 16], 200);
  const b2 = t.variable(t.zeros([16]));
  const wd = init([256, LENET.classes], 256);
  const bd = t.variable(t.zeros([LENET.classes]));
  const x = t.randomNormal([LENET.batch, 28, 28, 1], 0, 1, 'float32', 1);
  const labels = new Int32Array(LENET.batch).map(() => rng.int(LENET.classes));
  const onehot = t.oneHot(t.tensor1d(labels, 'int32'), LENET.classes);
  const opt = t.train.sgd(LENET.learningRate);
  const loss = () => {
    let h = t.relu(t.add(t.conv2d(x as TF.Tensor4D, w1 as TF.Tensor4D, 1, 'valid'), b1)) as TF.Tensor4D;
    h = t.maxPool(h, 2, 2, 'valid');
    h = t.relu(t.add(t.conv2d(h, w2 as TF.Tensor4D, 1, 'valid'), b2)) as TF.Tensor4D;
    h = t.maxPool(h, 2, 2, 'valid');
    // NHWC flattening orders features differently from ndcnn's NCHW; the work is the same.
    const logits = t.add(t.matMul(t.reshape(h, [LENET.batch, 256]), wd), bd);
    return t.losses.softmaxCrossEntropy(onehot, logits) as TF.Scalar;
  };
  return () => {
    const l = opt.minimize(loss, true);
    l?.dataSync();
    l?.dispose();
  };
}

/** W4 on ndcnn: one SGD step of the LeNet on a fixed batch. */
export function w4Ndcnn(log: (s: string) => void, engine = 'ndcnn'): TrainResult {
  const net = lenet();
  const batch = randomBatch(net, LENET.batch, LENET.classes, 1);
  const grad = new Float32Array(net.paramCount);
  const timing = measureOrProbe(`W4 ${engine}`, () => sgdStep(net, batch, grad, LENET.learningRate));
  log(`W4 ${engine}: ${timing.ms.toFixed(2)} ms/step`);
  return { workload: 'W4', engine, timing };
}

export async function trainSuite(log: (s: string) => void, peers: boolean): Promise<{ train: TrainResult[]; curvature: CurvatureResult[] }> {
  const train: TrainResult[] = [w4Ndcnn(log)];
  const net = lenet();
  const batch = randomBatch(net, LENET.batch, LENET.classes, 1);
  const v = direction(net.paramCount, 3);
  const out = new Float32Array(net.paramCount);
  for (const [kind, fn] of [['Gv', () => net.curvature(batch).gv(v, out)], ['Hv', () => net.curvature(batch).hv(v, out)]] as const) {
    const timing = measureOrProbe(`W5 ${kind}`, fn);
    train.push({ workload: `W5 ${kind}`, engine: 'ndcnn', timing });
    log(`W5 ${kind} ndcnn: ${timing.ms.toFixed(2)} ms`);
  }
  const curvature = [
    curvatureBench('W4 LeNet', net, LENET.batch, LENET.classes),
    curvatureBench('small 3-D', small3d(), SMALL3D.batch, SMALL3D.classes),
  ];
  for (const c of curvature) {
    log(`curvature ${c.net}: Hv/grad ${c.hvOverGrad.toFixed(2)}, Gv/grad ${c.gvOverGrad.toFixed(2)}, cached Gv/grad ${c.gvCachedOverGrad.toFixed(2)}`);
  }
  if (!peers) return { train, curvature };
  for (const b of TFJS_BACKENDS) {
    const engine = `tfjs-${b}`;
    try {
      const how = await useTfjs(b);
      const step = tfjsStep(tf);
      const timing = measureOrProbe(`W4 ${engine}`, step);
      train.push({ workload: 'W4', engine, timing, note: how });
      log(`W4 ${engine}: ${timing.ms.toFixed(2)} ms/step`);
    } catch (err) {
      const note = (err as Error).message.split('\n')[0];
      train.push({ workload: 'W4', engine, note });
      log(`W4 ${engine}: ${note}`);
    }
  }
  return { train, curvature };
}
