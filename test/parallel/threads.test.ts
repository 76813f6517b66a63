/**
 * Threads (src/parallel): a pass split over 2 or 3 threads computes what one thread computes, and
 * a given thread count always gives the same bits.
 * - float64, every pass (gradient, loss, outputs in both modes, Gv, Hv, squared gradients, K-FAC
 *   factors of each kind with their gradient) and the running statistics, on networks with batch norm (which couples the samples, so its sums
 *   go through the threads' all-reduce), dropout and a residual block, in ranks 1–3, with shares
 *   of unequal size. Tolerance 1e-12 relative to the largest entry: the threads change only the
 *   order of float64 sums (rounding ~1e-16 a term over a few hundred terms).
 * - float32 training with SGD: two runs at 2 threads are bit-identical; against 1 thread they
 *   differ by float32 rounding only.
 */
import { describe, expect, it } from 'vitest';
import { Network, cpuBackend, createOptimizer, train, type LayerSpec } from '../../src/index.js';
import { avgPool, batchNorm, conv, dense, dropout, flatten, globalAvgPool, maxPool, residual } from '../../src/index.js';

const NETS: [string, number[], LayerSpec[]][] = [
  ['1-D', [2, 24], [conv({ channels: 4, kernel: 3, activation: 'identity' }), batchNorm(), maxPool({ window: 2 }), conv({ channels: 3, kernel: 3, activation: 'tanh' }), flatten(), dropout(0.3), dense({ units: 3 })]],
  ['2-D', [2, 8, 8], [conv({ channels: 4, kernel: 3, padding: 'same', activation: 'identity' }), batchNorm(), residual([conv({ channels: 4, kernel: 3, padding: 'same', activation: 'relu' }), batchNorm()]), avgPool({ window: 2 }), flatten(), dense({ units: 6, activation: 'softplus' }), batchNorm(), dense({ units: 3 })]],
  ['3-D', [1, 5, 5, 5], [conv({ channels: 3, kernel: 2, activation: 'identity' }), batchNorm(), globalAvgPool(), flatten(), dense({ units: 3 })]],
];

function data(n: number, size: number, seed: number) {
  const x = new Float64Array(n * size).map((_, i) => Math.sin(seed + i * 0.37) + 0.3 * Math.cos(i * 1.7));
  const y = new Int32Array(n).map((_, i) => (i * 7 + seed) % 3);
  return { x, y, n };
}

/** Every pass of `net` on `b` in one go, as plain arrays. */
function everything(net: Network, b: ReturnType<typeof data>) {
  const P = net.paramCount;
  const grad = new Float64Array(P);
  const loss = net.gradient(b, grad);
  const v = new Float64Array(P).map((_, i) => Math.cos(i));
  const c = net.curvature(b);
  const [gv, hv] = [new Float64Array(P), new Float64Array(P)];
  c.gv(v, gv);
  // Another pass in between: the products must redo their forward pass on every thread.
  const trainLoss = net.loss(b);
  c.hv(v, hv);
  const squares = new Float64Array(P);
  net.sumSquaredGradients(b, squares);
  // Each kind's factors, loss and gradient; the Fisher's sampled targets hash each sample, so a
  // split batch draws what the whole batch draws.
  const kfac = (kind: 'fisher' | 'ggn' | 'empirical') => {
    const g = new Float64Array(P);
    const { loss, factors } = net.kroneckerFactors(b, kind === 'fisher' ? { kind, samples: 2 } : { kind }, g);
    return [loss, ...g, ...factors.kronecker.flatMap((k) => [...k.A, ...k.G]), ...factors.channels.flatMap((c) => [...c.F])];
  };
  return {
    kfacFisher: kfac('fisher'),
    kfacGgn: kfac('ggn'),
    kfacEmpirical: kfac('empirical'),
    loss: [loss, trainLoss, net.evalLoss(b)],
    grad,
    gv,
    hv,
    squares,
    outputs: net.trainOutputs(b),
    predict: net.predict(b.x, b.n),
    buffers: net.namedBuffers().flatMap((x) => Array.from(x.data)),
  };
}

function close(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  expect(a.length, what).toBe(b.length);
  let scale = 0;
  let err = 0;
  for (let i = 0; i < a.length; i++) [scale, err] = [Math.max(scale, Math.abs(a[i])), Math.max(err, Math.abs(a[i] - b[i]))];
  expect(err, what).toBeLessThanOrEqual(1e-12 * Math.max(scale, 1e-300));
}

describe.each(NETS)('threads on a %s network (float64)', (_, inShape, specs) => {
  const size = inShape.reduce((a, b) => a * b, 1);
  it.each([
    [2, 8],
    [3, 7],
    [3, 2],
  ])('%i threads, a batch of %i: every pass and the running statistics as one thread', (threads, n) => {
    const one = new Network(cpuBackend('float64'), inShape, specs, { seed: 5, threads: 1 });
    const many = new Network(cpuBackend('float64'), inShape, specs, { seed: 5, threads });
    expect(many.threads).toBe(threads);
    for (const seed of [1, 2]) {
      const b = data(n, size, seed);
      const [r1, rn] = [everything(one, b), everything(many, b)];
      for (const k of Object.keys(r1) as (keyof typeof r1)[]) close(rn[k], r1[k], k);
    }
    many.dispose();
  });
});

describe('threads (float32 training)', () => {
  const [, inShape, specs] = NETS[1];
  const size = inShape.reduce((a, b) => a * b, 1);
  const b = data(40, size, 3);
  const x = Float32Array.from(b.x);
  async function run(threads: number) {
    const net = new Network(cpuBackend('float32'), inShape, specs, { seed: 9, threads });
    await train(net, { x, y: b.y, sampleSize: size }, { optimizer: createOptimizer('sgd', { lr: 0.05, momentum: 'nesterov', mu: 0.9 }), epochs: 3, batchSize: 8, seed: 4 });
    const out = { params: net.params.slice(), buffers: net.namedBuffers().flatMap((t) => Array.from(t.data)) };
    net.dispose();
    return out;
  }

  it('is bit-identical run to run at 2 threads, and within float32 rounding of 1 thread', async () => {
    const [a, again, single] = [await run(2), await run(2), await run(1)];
    expect(Array.from(again.params)).toEqual(Array.from(a.params));
    expect(again.buffers).toEqual(a.buffers);
    // 15 steps of SGD in float32: the sums' order differs, ~1e-7 relative a step, compounding.
    let worst = 0;
    for (let i = 0; i < a.params.length; i++) worst = Math.max(worst, Math.abs(a.params[i] - single.params[i]));
    expect(worst).toBeGreaterThan(0);
    expect(worst).toBeLessThan(1e-3);
  });
});

describe('threads: arguments', () => {
  const specs: LayerSpec[] = [flatten(), dense({ units: 2 })];
  it('refuses counts that are not whole numbers from 1 to 56, and threads on the GPU backend', async () => {
    for (const threads of [0, 1.5, 57, Number.NaN]) {
      expect(() => new Network(cpuBackend('float32'), [4], specs, { threads })).toThrow(`network: threads must be an integer from 1 to 56, got ${JSON.stringify(threads)}`);
    }
    const { createBackend } = await import('../../src/index.js');
    const gpu = createBackend('gpu', { mode: 'cpu' });
    expect(() => new Network(gpu, [4], specs, { threads: 2 })).toThrow('network: threads: 2 needs the CPU backend (the gpu backend runs each pass on its device)');
  });
});

describe('threads: a failing thread', () => {
  const [, inShape, specs] = NETS[1];
  const size = inShape.reduce((a, b) => a * b, 1);
  const b = data(6, size, 1);

  it('a failure on the calling thread stops the others mid-pass (at a batch-norm barrier), is reported, and the next pass works', () => {
    const net = new Network(cpuBackend('float64'), inShape, specs, { seed: 5, threads: 2 });
    const ok = new Float64Array(net.paramCount);
    net.gradient(b, ok);
    // This thread's share of the pass fails; the worker's is already under way.
    const own = net.gradientOn.bind(net);
    net.gradientOn = () => {
      throw new Error('boom');
    };
    expect(() => net.gradient(data(6, size, 2), new Float64Array(net.paramCount))).toThrow('boom');
    net.gradientOn = own;
    const again = new Float64Array(net.paramCount);
    net.nextStep();
    const reference = new Network(cpuBackend('float64'), inShape, specs, { seed: 5, threads: 2 });
    reference.gradient(b, new Float64Array(net.paramCount));
    reference.nextStep();
    const expected = new Float64Array(net.paramCount);
    reference.gradient(b, expected);
    net.gradient(b, again);
    expect(Array.from(again)).toEqual(Array.from(expected));
    net.dispose();
    reference.dispose();
  });

  it("a failure on a worker thread is reported with the worker's own message, not the calling thread's wait", () => {
    const net = new Network(cpuBackend('float64'), inShape, specs, { seed: 5, threads: 2 });
    const c = net.curvature(b);
    // The worker forgets the curvature product (as when its owner was collected): its next product fails there.
    const team = (net as unknown as { team: { id: number; pool: { drop(d: object): void } } }).team;
    team.pool.drop({ network: team.id, curvature: 1 });
    net.loss(b); // carries the drop to the worker
    expect(() => c.gv(new Float64Array(net.paramCount).fill(1), new Float64Array(net.paramCount))).toThrow('thread 1: network: no curvature 1 on this thread');
    net.dispose();
  });
});
