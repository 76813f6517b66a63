/**
 * Train, save, export to ONNX, load elsewhere: the README's "Saving, loading and exchanging
 * models" script. Writes digits.safetensors and digits.onnx to the current directory.
 *   npx tsx examples/exchange.ts
 */
import * as ort from 'onnxruntime-node';
import { loadMnist } from '../datasets/index.js';
import { conv, cpuBackend, createOptimizer, dense, flatten, loadNetwork, maxPool, Network, saveOnnx, saveSafetensors, train } from '../src/index.js';

const { inputs: x, labels: y } = loadMnist(); // the `mnist` package's 10,000 digits, offline

const net = new Network(cpuBackend(), [1, 28, 28], [conv({ channels: 8, kernel: 5, activation: 'relu' }), maxPool({ window: 2 }), flatten(), dense({ units: 10 })]);
await train(net, { x, y, sampleSize: 784 }, { optimizer: createOptimizer('sgd', { lr: 0.05 }), epochs: 1, batchSize: 32 });
saveSafetensors(net, 'digits.safetensors'); saveOnnx(net, 'digits.onnx');
const again = loadNetwork('digits.safetensors');
const { output } = await (await ort.InferenceSession.create('digits.onnx')).run({ input: new ort.Tensor('float32', x, [y.length, 1, 28, 28]) });

const classes = (z: ArrayLike<number>) => Array.from(y, (_, r) => { const row = Array.from({ length: 10 }, (_, j) => z[10 * r + j]); return row.indexOf(Math.max(...row)); });
const [a, b, c] = [net.predict(x, y.length), again.predict(x, y.length), output.data as Float32Array].map(classes);
const accuracy = (p: number[]) => `${((100 * p.filter((k, i) => k === y[i]).length) / y.length).toFixed(2)} %`;
console.log(`accuracy on the ${y.length} training digits: trained ${accuracy(a)}, reloaded ${accuracy(b)}, onnxruntime ${accuracy(c)}`);
console.log(`same class as the trained network: reloaded ${b.filter((k, i) => k === a[i]).length}/${y.length}, onnxruntime ${c.filter((k, i) => k === a[i]).length}/${y.length}`);
