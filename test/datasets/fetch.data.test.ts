/** fetchDataset against the official checksums and manifest, serving the full sets from a local server. */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fetchDataset } from '../../datasets/fetch.js';
import { loadFsdd } from '../../datasets/fsdd.js';
import { loadMri } from '../../datasets/mri.js';
import { describeWithData } from '../data.js';
import { makeTar } from './synth.js';

const routes = new Map<string, Uint8Array>();
let server: Server;
let base: string;
const cache = mkdtempSync(join(tmpdir(), 'ndcnn-fetch-data-'));

beforeAll(async () => {
  server = createServer((req, res) => {
    const body = routes.get(req.url ?? '');
    // One connection per download, as in fetch.test.ts: a pooled keep-alive socket that the
    // server closed while a test blocked the event loop failed the next download (ECONNRESET).
    if (body) res.writeHead(200, { 'content-length': body.length, connection: 'close' }).end(body);
    else res.writeHead(404, { connection: 'close' }).end('not found');
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((done) => server.close(done));
  rmSync(cache, { recursive: true, force: true });
});

describeWithData('mri', 'fetchDataset of the full MRI files', (root) => {
  it('passes the official checksums and installs where loadMri finds them', async () => {
    for (const f of ['ch2bet.nii.gz', 'aal.nii.gz', 'aal.nii.txt']) routes.set(`/mri/${f}`, readFileSync(join(root, 'mri', f)));
    await fetchDataset('mri', { cacheDir: cache, baseUrl: `${base}/mri` });
    expect(loadMri(cache).dims).toEqual([181, 217, 181]);
  });
});

describeWithData('fsdd', 'fetchDataset of the full FSDD archive', (root) => {
  it('checks all 3,000 recordings against the committed manifest', async () => {
    const dir = join(root, 'fsdd', 'recordings');
    const files = readdirSync(dir).sort();
    const tar = makeTar([{ path: 'fsdd-master/', type: '5' }, ...files.map((f) => ({ path: f, prefix: 'fsdd-master/recordings', data: readFileSync(join(dir, f)) }))]);
    routes.set('/fsdd/master.tar.gz', gzipSync(tar, { level: 1 }));
    await fetchDataset('fsdd', { cacheDir: cache, baseUrl: `${base}/fsdd` });
    expect(loadFsdd(cache).shape).toEqual([3000, 1, 8000]);
  });
});
