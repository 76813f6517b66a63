import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { loadFashionMnist } from '../../datasets/fashion.js';
import { readIdx } from '../../datasets/idx.js';
import { describeWithData } from '../data.js';

describeWithData('fashion-mnist', 'readIdx on the full Fashion-MNIST', (root) => {
  it('the test set: 10,000 images of 28x28 uint8 and 1,000 labels per class', () => {
    const images = readIdx(readFileSync(join(root, 'fashion-mnist', 't10k-images-idx3-ubyte.gz')), 't10k-images');
    expect(images.shape).toEqual([10000, 28, 28]);
    expect(images.data).toBeInstanceOf(Uint8Array);
    const ds = loadFashionMnist(root, 'test');
    expect(ds.shape).toEqual([10000, 1, 28, 28]);
    const counts = new Array(10).fill(0);
    ds.labels.forEach((l) => counts[l]++);
    expect(counts).toEqual(new Array(10).fill(1000)); // the published balance of the test set
    // Pixels are the stored bytes / 255: compare one image with the raw file.
    for (let i = 0; i < 784; i++) expect(ds.inputs[784 * 123 + i]).toBe(Math.fround(images.data[784 * 123 + i] / 255));
  });
});
