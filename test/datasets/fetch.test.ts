import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataError } from '../../datasets/errors.js';
import { fetchDataset } from '../../datasets/fetch.js';
import { loadFsdd } from '../../datasets/fsdd.js';
import { loadMri } from '../../datasets/mri.js';
import type { ArchiveSource, FilesSource } from '../../datasets/sources.js';
import { FIXTURE_DATA } from '../data.js';
import { makeTar, paxRecord } from './synth.js';

/*
 * The committed excerpts stand in for the real sets, so they are served under sources whose
 * checksums are computed here from the fixture files (the mechanics under test are the same);
 * fetch.data.test.ts checks the full sets against the official checksums.
 */
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const MRI_FILES = ['ch2bet.nii.gz', 'aal.nii.gz', 'aal.nii.txt'];
const mriSource: FilesSource = {
  kind: 'files',
  url: 'unused',
  files: MRI_FILES.map((f) => {
    const gzip = f.endsWith('.gz');
    const bytes = readFileSync(join(FIXTURE_DATA, 'mri', f));
    const content = gzip ? gunzipSync(bytes) : bytes;
    return { remote: f, local: f, gzip, bytes: content.length, sha256: sha256(content) };
  }),
};
const RECORDINGS = join(FIXTURE_DATA, 'fsdd', 'recordings');

/** A local server on 127.0.0.1 (port 0: any free port) serving whatever `routes` holds now. */
const routes = new Map<string, Uint8Array>();
let server: Server;
let base: string;
const roots: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    const body = routes.get(req.url ?? '');
    // One connection per download: a test that blocks the event loop for seconds (gzipSync of
    // the FSDD archive; longer on a loaded machine) let the server's 5 s keep-alive timeout
    // close a pooled socket that the next download then wrote to: "fetch failed: read ECONNRESET".
    if (!body) {
      res.writeHead(404, { connection: 'close' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-length': body.length, connection: 'close' }).end(body);
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((done) => server.close(done));
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function freshCache(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ndcnn-fetch-'));
  roots.push(dir);
  return dir;
}

function serveMri(overrides: Record<string, Uint8Array> = {}) {
  routes.clear();
  for (const f of MRI_FILES) routes.set(`/mri/${f}`, overrides[f] ?? readFileSync(join(FIXTURE_DATA, 'mri', f)));
}

/** A manifest of the fixture recordings, written into `dir`: the fsdd source with that manifest. */
function fsddSource(dir: string): ArchiveSource {
  const manifest = join(dir, 'fsdd.sha256');
  const lines = readdirSync(RECORDINGS).sort().map((f) => `${sha256(readFileSync(join(RECORDINGS, f)))}  recordings/${f}\n`);
  writeFileSync(manifest, lines.join(''));
  return { kind: 'archive', url: 'unused', archive: 'master.tar.gz', maxBytes: 64 << 20, member: 'recordings', manifest };
}

/** A GitHub-style archive: pax global header, one top folder, the recordings below it. */
function fsddArchive(extra: Parameters<typeof makeTar>[0] = [], drop = 0): Uint8Array {
  const dir = RECORDINGS;
  const files = readdirSync(dir).sort().slice(drop);
  return gzipSync(
    makeTar([
      { path: 'pax_global_header', type: 'g', data: paxRecord('comment', 'commit-id') },
      { path: 'fsdd-master/', type: '5' },
      { path: 'fsdd-master/README.md', data: new TextEncoder().encode('# FSDD') },
      ...files.map((f) => ({ path: f, prefix: 'fsdd-master/recordings', data: readFileSync(join(dir, f)) })),
      ...extra,
    ]),
    { level: 1 },
  );
}

/** Nothing of the set and no temporary folder was left in the cache. */
function expectNothingWritten(cache: string) {
  expect(readdirSync(cache)).toEqual([]);
}

describe('fetchDataset from a local server', () => {
  it('fetches the MRI files, checks them, installs them where loadMri finds them, and skips a second fetch', async () => {
    serveMri();
    const cache = freshCache();
    const lines: string[] = [];
    const dir = await fetchDataset('mri', { cacheDir: cache, baseUrl: `${base}/mri`, source: mriSource, log: (l) => lines.push(l) });
    expect(dir).toBe(join(cache, 'mri'));
    expect(readdirSync(cache)).toEqual(['mri']);
    expect(loadMri(cache).dims).toEqual([72, 80, 72]);
    routes.clear(); // a second fetch must not download anything
    await fetchDataset('mri', { cacheDir: cache, baseUrl: `${base}/mri`, source: mriSource, log: (l) => lines.push(l) });
    expect(lines.at(-1)).toBe(`mri: already in ${dir}`);
  });

  it('accepts a recompressed copy of the same content (the check is on the inflated bytes)', async () => {
    const aal = readFileSync(join(FIXTURE_DATA, 'mri', 'aal.nii.gz'));
    serveMri({ 'aal.nii.gz': gzipSync(gunzipSync(aal), { level: 1 }) });
    await expect(fetchDataset('mri', { cacheDir: freshCache(), baseUrl: `${base}/mri`, source: mriSource })).resolves.toBeTruthy();
  });

  it('a corrupted file fails the checksum and leaves no partial files', async () => {
    const txt = Buffer.from(readFileSync(join(FIXTURE_DATA, 'mri', 'aal.nii.txt')));
    txt[100] ^= 1;
    serveMri({ 'aal.nii.txt': txt });
    const cache = freshCache();
    // aal.nii.txt is committed whole, so its checksum is the official one.
    await expect(fetchDataset('mri', { cacheDir: cache, baseUrl: `${base}/mri`, source: mriSource })).rejects.toThrow(/^mri\/aal\.nii\.txt: sha256 mismatch \(expected 1788d655.*, got [0-9a-f]{64}\)$/);
    expectNothingWritten(cache);
  });

  it('altered content inside a valid gzip stream fails the checksum too', async () => {
    const raw = gunzipSync(readFileSync(join(FIXTURE_DATA, 'mri', 'ch2bet.nii.gz')));
    raw[200_000] ^= 0xff;
    serveMri({ 'ch2bet.nii.gz': gzipSync(raw, { level: 1 }) });
    const cache = freshCache();
    await expect(fetchDataset('mri', { cacheDir: cache, baseUrl: `${base}/mri`, source: mriSource })).rejects.toThrow('mri/ch2bet.nii.gz: sha256 mismatch');
    expectNothingWritten(cache);
  });

  it('a missing file is a clear error', async () => {
    routes.clear();
    const cache = freshCache();
    await expect(fetchDataset('fashion-mnist', { cacheDir: cache, baseUrl: base })).rejects.toThrow(
      `fashion-mnist/train-images-idx3-ubyte.gz: GET ${base}/train-images-idx3-ubyte.gz answered 404 Not Found`,
    );
    expectNothingWritten(cache);
  });

  it('fetches FSDD from a repository archive, checking every recording against the manifest', async () => {
    routes.clear();
    routes.set('/fsdd/master.tar.gz', fsddArchive());
    const cache = freshCache();
    await fetchDataset('fsdd', { cacheDir: cache, baseUrl: `${base}/fsdd`, source: fsddSource(freshCache()) });
    expect(readdirSync(join(cache, 'fsdd'))).toEqual(['recordings']); // README.md and the rest are not kept
    const ds = loadFsdd(cache);
    expect(ds.shape).toEqual([60, 1, 8000]);
  });

  it('an archive lacking recordings fails and leaves nothing', async () => {
    routes.clear();
    routes.set('/fsdd/master.tar.gz', fsddArchive([], 1));
    const cache = freshCache();
    await expect(fetchDataset('fsdd', { cacheDir: cache, baseUrl: `${base}/fsdd`, source: fsddSource(freshCache()) })).rejects.toThrow(
      'fsdd/master.tar.gz: archive lacks 1 of the 60 manifest files (first: recordings/0_george_0.wav)',
    );
    expectNothingWritten(cache);
  });

  const enc = (s: string) => new TextEncoder().encode(s);
  it.each([
    ['a ".." path', [{ path: 'fsdd-master/recordings/../../../evil.wav', data: enc('x') }], 'would unpack outside its directory'],
    ['an absolute path', [{ path: '/tmp/evil.wav', data: enc('x') }], 'would unpack outside its directory'],
    ['a symbolic link', [{ path: 'fsdd-master/recordings/link.wav', type: '2', link: '/etc/passwd' }], 'is a symbolic link'],
    ['a hard link', [{ path: 'fsdd-master/recordings/hard.wav', type: '1', link: 'fsdd-master/README.md' }], 'is a hard link'],
    ['a pax path override', [{ path: 'PaxHeader', type: 'x', data: paxRecord('path', '../evil.wav') }, { path: 'fsdd-master/ok.wav', data: enc('x') }], 'would unpack outside its directory'],
  ])('a malicious archive with %s is refused whole, writing nothing', async (_, evil, message) => {
    routes.clear();
    // The bad entry comes first, so nothing but the refusal can explain the failure.
    const tar = gzipSync(makeTar([...evil, { path: 'fsdd-master/recordings/0_george_0.wav', data: enc('x') }]));
    routes.set('/fsdd/master.tar.gz', tar);
    const cache = freshCache();
    const err = await fetchDataset('fsdd', { cacheDir: cache, baseUrl: `${base}/fsdd` }).catch((e) => e);
    expect(err).toBeInstanceOf(DataError);
    expect(err.message).toContain(message);
    expect(err.message).toContain('refusing the archive');
    expectNothingWritten(cache);
    expect(existsSync(join(cache, '..', 'evil.wav'))).toBe(false);
  });
});
