/**
 * The demo's training run, the same on every backend and thread: the network, SGD with Nesterov
 * momentum, batches of 32 from seed 1 (so runs on different backends are directly comparable),
 * held-out accuracy every `evalEvery` steps, and the wall time a step takes. The page runs it for
 * the GPU backends; the CPU backend runs it in a worker (trainer.ts), whose threads may block.
 */
import { conv, dense, flatten, maxPool } from '../src/layers/index.js';
import { Network } from '../src/network/index.js';
import { Sgd, train } from '../src/optim/index.js';
import { PIXELS, type Digits } from './digits-format.js';

export const SPECS = [
  conv({ channels: 8, kernel: 5, activation: 'relu' as const }),
  maxPool({ window: 2 }),
  conv({ channels: 16, kernel: 5, activation: 'relu' as const }),
  maxPool({ window: 2 }),
  flatten(),
  dense({ units: 10 }),
];
export const BATCH = 32;

export interface RunOptions {
  /** Stop after this many steps (0: 10 epochs). */
  maxSteps: number;
  /** Held-out accuracy every this many steps (0: only at the end). */
  evalEvery: number;
  signal: AbortSignal;
}

export interface RunEvents {
  /** After each step: its batch loss and the mean wall time of the last 20 steps (evaluation and drawing not counted). */
  step(step: number, loss: number, msPerStep: number): void | Promise<void>;
  accuracy(step: number, accuracy: number): void | Promise<void>;
}

/** Share of held-out digits whose largest output is their label. */
export async function accuracy(net: Network, set: Digits): Promise<number> {
  const z = await net.predictAsync(set.x);
  let right = 0;
  for (let i = 0; i < set.y.length; i++) {
    let best = 0;
    for (let k = 1; k < 10; k++) if (z[i * 10 + k] > z[i * 10 + best]) best = k;
    if (best === set.y[i]) right++;
  }
  return right / set.y.length;
}

/** Trains `net` on the digits; returns the steps taken, and whether the run stopped before its 10 epochs (maxSteps, or `signal`). */
export async function trainDigits(net: Network, data: { train: Digits; test: Digits }, o: RunOptions, on: RunEvents): Promise<{ steps: number; stopped: boolean }> {
  const stop = new AbortController();
  o.signal.addEventListener('abort', () => stop.abort(), { once: true });
  const stamps = [performance.now()];
  let steps = 0;
  let measured = -1;
  await train(net, { x: data.train.x, y: data.train.y, sampleSize: PIXELS }, {
    optimizer: new Sgd({ lr: 0.05, momentum: 'nesterov', mu: 0.9 }),
    epochs: 10,
    batchSize: BATCH,
    seed: 1,
    signal: stop.signal,
    onStep: async ({ step, report }) => {
      steps = step;
      stamps.push(performance.now());
      const back = Math.min(20, step);
      await on.step(step, report.loss, (stamps[step] - stamps[step - back]) / back);
      if (o.evalEvery > 0 && step % o.evalEvery === 0) {
        await on.accuracy(step, await accuracy(net, data.test));
        measured = step;
      }
      if (o.maxSteps > 0 && step >= o.maxSteps) stop.abort();
      // Evaluation and drawing are not training: the next step's clock starts now.
      stamps[step] = performance.now();
    },
  });
  if (steps > 0 && measured !== steps) await on.accuracy(steps, await accuracy(net, data.test));
  return { steps, stopped: stop.signal.aborted };
}
