// A TypeScript consumer: type-checked under NodeNext and under Bundler resolution.
import { Network, conv, createBackend, dense, flatten, type Backend, type FloatArray } from 'ndcnn';
import { loadMnist, type Dataset } from 'ndcnn/datasets';

const backend: Backend = createBackend('cpu', { dtype: 'float64' });
const net = new Network(backend, [1, 16], [conv({ channels: 2, kernel: 3 }), flatten(), dense({ units: 2 })], { loss: 'mse', seed: 2 });
const out: FloatArray = net.predict(new Float64Array(16), 1);
const data: Dataset = loadMnist({ digits: [0, 1] });
export const summary: string = `${out.length} ${data.labels.length} ${net.paramCount}`;
