import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabeledSet } from './dataset.js';
import { DataError } from './errors.js';
import { readIdx } from './idx.js';
import { resolveDataDir } from './paths.js';

/** Label names in label order (zalandoresearch/fashion-mnist README). */
export const FASHION_CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'] as const;

const PREFIX = { train: 'train', test: 't10k' } as const;

/**
 * Fashion-MNIST from `<dataDir>/fashion-mnist/{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz`
 * as [n, 1, 28, 28] with pixels / 255 in [0, 1], in file order.
 */
export function loadFashionMnist(dataDir: string | undefined, split: 'train' | 'test'): LabeledSet {
  const dir = join(resolveDataDir('fashion-mnist', dataDir), 'fashion-mnist');
  const imagesName = `fashion-mnist/${PREFIX[split]}-images-idx3-ubyte.gz`;
  const labelsName = `fashion-mnist/${PREFIX[split]}-labels-idx1-ubyte.gz`;
  const images = readIdx(readFileSync(join(dir, `${PREFIX[split]}-images-idx3-ubyte.gz`)), imagesName);
  const labels = readIdx(readFileSync(join(dir, `${PREFIX[split]}-labels-idx1-ubyte.gz`)), labelsName);
  const [n, h, w] = images.shape;
  if (images.shape.length !== 3 || h !== 28 || w !== 28 || !(images.data instanceof Uint8Array)) {
    throw new DataError(imagesName, `expected uint8 images [n, 28, 28], got ${images.data.constructor.name} [${images.shape.join(', ')}]`);
  }
  if (labels.shape.length !== 1 || labels.shape[0] !== n || !(labels.data instanceof Uint8Array)) {
    throw new DataError(labelsName, `expected ${n} uint8 labels, got ${labels.data.constructor.name} [${labels.shape.join(', ')}]`);
  }
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    if (labels.data[i] >= FASHION_CLASSES.length) throw new DataError(labelsName, `label ${labels.data[i]} at ${i} is not in 0..9`);
    y[i] = labels.data[i];
  }
  const x = new Float32Array(n * h * w);
  for (let i = 0; i < x.length; i++) x[i] = images.data[i] / 255;
  return { inputs: x, shape: [n, 1, h, w], labels: y, classes: FASHION_CLASSES };
}
