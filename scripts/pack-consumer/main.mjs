// Plain Node ESM, as a user writes it: a tiny 2-D CNN from the installed package, one prediction.
import { Network, conv, createBackend, dense, flatten, maxPool } from 'ndcnn';
import { loadMnist } from 'ndcnn/datasets';

const net = new Network(createBackend('cpu'), [1, 8, 8], [
  conv({ channels: 2, kernel: 3, activation: 'relu' }),
  maxPool({ window: 2 }),
  flatten(),
  dense({ units: 3 }),
], { loss: 'softmax-cross-entropy', seed: 1 });
const x = Float32Array.from({ length: 2 * 64 }, (_, i) => Math.sin(i));
const y = net.predict(x, 2);
if (y.length !== 6 || !y.every(Number.isFinite)) throw new Error(`predict gave ${y}`);
if (typeof loadMnist !== 'function') throw new Error('ndcnn/datasets lacks loadMnist');
console.log(`node ESM: ${net.paramCount} parameters, predict -> [${Array.from(y, (v) => v.toFixed(4)).join(', ')}]`);
