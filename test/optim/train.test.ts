/**
 * The library training loop: it trains, calls its callbacks with the right counts, stops cleanly
 * between steps on a signal (and a second call continues exactly where it stopped), and refuses
 * bad options with a message naming the option.
 */
import { describe, expect, it } from 'vitest';
import { cpuBackend, Network } from '../../src/index.js';
import { Rng } from '../../src/nd/rng.js';
import { MiniBatches, Sgd, train, TrainingDiverged, type EpochInfo, type StepInfo, type TrainOptions } from '../../src/optim/index.js';
import { blobs, SoftmaxRegression } from './models.js';

/** 60 samples of 4 features in 3 separable blobs, as Samples. */
function problem() {
  const b = blobs(60, 4, 3, 11);
  return { x: b.x, y: b.y, sampleSize: 4 };
}

describe('train', () => {
  it('lowers the loss of softmax regression, calling onStep and onEpoch with the right counts', async () => {
    const data = problem();
    const model = new SoftmaxRegression(4, 3);
    const all = { x: data.x, y: data.y, n: 60 };
    const before = model.loss(all);
    const steps: StepInfo[] = [];
    const epochs: EpochInfo[] = [];
    const summary = await train(model, data, {
      optimizer: new Sgd({ lr: 0.1 }),
      epochs: 3,
      batchSize: 16,
      onStep: (s) => void steps.push({ ...s, progress: { ...s.progress } }),
      onEpoch: (e) => void epochs.push({ ...e, progress: { ...e.progress } }),
    });
    // 60 samples in batches of 16: ⌈60/16⌉ = 4 batches an epoch, the last of 12.
    expect(summary).toMatchObject({ steps: 12, epochs: 3, stepsThisCall: 12, stopped: false });
    expect(steps.map((s) => s.step)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
    expect(steps.map((s) => s.epoch)).toEqual([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
    expect(epochs.map((e) => [e.epoch, e.step])).toEqual([[1, 4], [2, 8], [3, 12]]);
    // Each epoch's train loss is the mean of its four batch losses; the counters are closed.
    for (const [k, e] of epochs.entries()) {
      const mean = steps.slice(4 * k, 4 * k + 4).reduce((a, s) => a + s.report.loss, 0) / 4;
      expect(e.trainLoss).toBeCloseTo(mean, 12);
      expect(e.progress).toEqual({ step: 4 * (k + 1), epoch: k + 1, epochLossSum: 0, epochSteps: 0 });
    }
    expect(summary.trainLoss).toBe(epochs[2].trainLoss);
    expect(summary.lastLoss).toBe(steps[11].report.loss);
    // Separable blobs: 12 steps at lr 0.1 take the loss from ln 3 ≈ 1.1 well below half of it.
    expect(before).toBeCloseTo(Math.log(3), 12);
    expect(model.loss(all)).toBeLessThan(before / 2);
    expect(epochs[2].trainLoss).toBeLessThan(epochs[0].trainLoss);
  });

  it('trains a float32 Network and passes each batch to augment first', async () => {
    const net = new Network(cpuBackend('float32'), [1, 4], [{ kind: 'flatten' }, { kind: 'dense', units: 3 }]);
    const b = blobs(60, 4, 3, 5);
    const data = { x: Float32Array.from(b.x), y: b.y, sampleSize: 4 };
    const before = net.loss({ x: data.x, y: data.y, n: 60 });
    let seen = 0;
    await train(net, data, { optimizer: new Sgd({ lr: 0.1 }), epochs: 5, batchSize: 20, seed: 3, augment: (batch) => {
      seen += batch.n;
    } });
    expect(seen).toBe(5 * 60);
    expect(net.loss({ x: data.x, y: data.y, n: 60 })).toBeLessThan(before / 2);
  });

  it('stops cleanly between steps when the signal fires, and a second call continues exactly', async () => {
    const data = problem();
    const opts = (model: SoftmaxRegression): [SoftmaxRegression, MiniBatches, TrainOptions] => [
      model,
      new MiniBatches(data, 16, new Rng(9)),
      { optimizer: new Sgd({ lr: 0.1, momentum: 'classic' }), epochs: 2 },
    ];
    const [whole, wholeBatches, wholeOpts] = opts(new SoftmaxRegression(4, 3));
    await train(whole, wholeBatches, wholeOpts);

    const [model, batches, o] = opts(new SoftmaxRegression(4, 3));
    const stop = new AbortController();
    const progress = { step: 0, epoch: 0, epochLossSum: 0, epochSteps: 0 };
    let calls = 0;
    const first = await train(model, batches, {
      ...o,
      progress,
      signal: stop.signal,
      onStep: ({ step }) => {
        calls++;
        if (step === 6) stop.abort(); // mid-way through epoch 2
      },
    });
    expect(first).toMatchObject({ steps: 6, epochs: 1, stepsThisCall: 6, stopped: true });
    expect(calls).toBe(6);
    expect(batches.state()).toMatchObject({ epoch: 2, cursor: 2 });
    // Same optimizer, same iterator, same counters: the rest of epoch 2, and no more.
    const rest = await train(model, batches, { ...o, progress });
    expect(rest).toMatchObject({ steps: 8, epochs: 2, stepsThisCall: 2, stopped: false });
    expect(Array.from(model.params)).toEqual(Array.from(whole.params));
  });

  it('takes no step when the signal has already fired, and draws no batch (no shuffle)', async () => {
    const batches = new MiniBatches(problem(), 16, new Rng(2));
    const before = batches.state();
    const model = new SoftmaxRegression(4, 3);
    const r = await train(model, batches, { optimizer: new Sgd(), epochs: 1, signal: AbortSignal.abort() });
    expect(r).toMatchObject({ steps: 0, epochs: 0, stopped: true, lastLoss: null, trainLoss: null });
    expect(batches.state()).toEqual(before);
    expect(Array.from(model.params).every((p) => p === 0)).toBe(true);
  });

  it('awaits async callbacks before the next step', async () => {
    const order: string[] = [];
    await train(new SoftmaxRegression(4, 3), problem(), {
      optimizer: new Sgd(),
      epochs: 1,
      batchSize: 30,
      onStep: async ({ step }) => {
        await new Promise((done) => setTimeout(done, 5));
        order.push(`step ${step}`);
      },
      onEpoch: async () => void order.push('epoch'),
    });
    expect(order).toEqual(['step 1', 'step 2', 'epoch']);
  });

  it('throws TrainingDiverged naming the step when a batch loss is not finite', async () => {
    const data = problem();
    const x = Float64Array.from(data.x);
    x[3] = NaN;
    const run = train(new SoftmaxRegression(4, 3), { ...data, x }, { optimizer: new Sgd(), epochs: 1, batchSize: 60 });
    await expect(run).rejects.toThrow(TrainingDiverged);
    await expect(train(new SoftmaxRegression(4, 3), { ...data, x }, { optimizer: new Sgd(), epochs: 1, batchSize: 60 })).rejects.toThrow(
      /diverged at step 1 \(batch loss NaN\)/,
    );
  });

  it('refuses bad options with a message naming the option', async () => {
    const model = new SoftmaxRegression(4, 3);
    const data = problem();
    const optimizer = new Sgd();
    const bad: [unknown, RegExp][] = [
      [{ optimizer, epochs: 1, batchSize: 8, epoch: 2 }, /unknown option epoch/],
      [{ epochs: 1, batchSize: 8 }, /options\.optimizer must be an Optimizer/],
      [{ optimizer, epochs: 0, batchSize: 8 }, /epochs must be a positive integer, got 0/],
      [{ optimizer, epochs: 1.5, batchSize: 8 }, /epochs must be a positive integer, got 1\.5/],
      [{ optimizer, epochs: 1 }, /batchSize is required/],
      [{ optimizer, epochs: 1, batchSize: -2 }, /batchSize must be a positive integer, got -2/],
      [{ optimizer, epochs: 1, batchSize: 8, onStep: 'log' }, /onStep must be a function, got string/],
      [{ optimizer, epochs: 1, batchSize: 8, signal: {} }, /signal must be an AbortSignal/],
      [{ optimizer, epochs: 1, batchSize: 8, seed: 1, rng: new Rng(1) }, /seed or rng, not both/],
      [{ optimizer, epochs: 1, batchSize: 8, progress: { step: -1, epoch: 0, epochLossSum: 0, epochSteps: 0 } }, /progress\.step must be/],
    ];
    for (const [options, message] of bad) {
      await expect(train(model, data, options as TrainOptions), JSON.stringify(Object.keys(options as object))).rejects.toThrow(message);
    }
    await expect(train(model, new MiniBatches(data, 8, new Rng(1)), { optimizer, epochs: 1, batchSize: 16 })).rejects.toThrow(
      /batchSize 16 differs from the MiniBatches' 8/,
    );
    await expect(train(model, { x: data.x } as never, { optimizer, epochs: 1, batchSize: 8 })).rejects.toThrow(/data must be Samples/);
    await expect(train({} as never, data, { optimizer, epochs: 1, batchSize: 8 })).rejects.toThrow(/must implement Model/);
    // Nothing was trained by any refused call.
    expect(Array.from(model.params).every((p) => p === 0)).toBe(true);
  });
});

describe('Sgd options from plain JavaScript', () => {
  it('refuses misspelt keys and kinds instead of training with a default', () => {
    expect(() => new Sgd({ learningRate: 0.1 } as never)).toThrow("Sgd: unknown option 'learningRate' (known: lr, mu, momentum, weightDecay, weightDecayKind, clipNorm)");
    expect(() => new Sgd({ momentum: 'Nesterov' as never })).toThrow(`Sgd: momentum must be 'none', 'classic' or 'nesterov', got "Nesterov"`);
    expect(() => new Sgd({ weightDecay: 0.1, weightDecayKind: 'L2' as never })).toThrow(`Sgd: weightDecayKind must be 'decoupled' or 'l2', got "L2"`);
  });
});
