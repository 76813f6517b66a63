/** The experiments' splits on the full sets: the sizes the README quotes. */
import { expect, it } from 'vitest';
import type { DataRequest } from '../../experiments/experiment.js';
import { audio1d } from '../../experiments/audio1d.js';
import { image2d } from '../../experiments/image2d.js';
import { describeWithData } from '../data.js';

const req = (dataset: string, split: string, dataDir: string): DataRequest => ({ dataset, split, splitSeed: 1, data: {}, dataDir });

describeWithData('fashion-mnist', 'image2d on the full Fashion-MNIST', (root) => {
  it('the official 60,000 / 10,000 split', () => {
    const p = image2d.load(req('fashion-mnist', 'official', root));
    expect([p.train.labels.length, p.tests.test.labels.length]).toEqual([60000, 10000]);
  });
});

describeWithData('fsdd', 'audio1d on the full FSDD', (root) => {
  it('random: 600 of the 3,000 recordings held out; official: takes 0..4 tested (6 speakers × 10 digits × 5 = 300)', () => {
    const random = audio1d.load({ ...req('fsdd', 'random', root), data: { length: 8000 } });
    expect([random.train.labels.length, random.tests['held-out'].labels.length]).toEqual([2400, 600]);
    const official = audio1d.load({ ...req('fsdd', 'official', root), data: { length: 8000 } });
    expect(official.tests['official test'].labels.length).toBe(300);
  });
});
