import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DataError } from './errors.js';
import { gunzipBounded } from './gzip.js';
import { cacheDir as defaultCacheDir, type DatasetName } from './paths.js';
import { SOURCES, type ArchiveSource, type FileEntry, type FilesSource, type Source } from './sources.js';
import { removeStale } from './stale.js';
import { readTar } from './tar.js';

export interface FetchOptions {
  /** Root to fetch into; the set lands in `<cacheDir>/<name>/` (default: paths.cacheDir()). */
  cacheDir?: string;
  /** Replaces the official source URL (tests point it at a local server). */
  baseUrl?: string;
  /**
   * Replaces the official file list and checksums (tests serve small excerpts under their own
   * sums); an archive's `manifest` may then be an absolute path.
   */
  source?: Source;
  /** Progress lines; silent by default. */
  log?: (line: string) => void;
}

/** A verified file, relative to the set's folder, ready to be written. */
export type Staged = { local: string; data: Uint8Array };

type Fetcher<S extends Source> = (src: S, url: string, log: (line: string) => void, set: string) => Promise<Staged[]>;

/** How each kind of source is downloaded and verified: a typed registry, one function per kind. */
const FETCHERS: { [K in Source['kind']]: Fetcher<Extract<Source, { kind: K }>> } = {
  files: fetchFiles,
  archive: fetchArchive,
};

/**
 * Downloads a data set from its official source into `<cacheDir>/<name>/` and returns that
 * folder. Every file is checked against its SHA-256 before anything is written; the files are
 * written into a temporary folder beside the target and renamed into place only once all are
 * there, so a failed or interrupted fetch leaves no partial set behind. A set already present
 * and intact is left as it is.
 */
export async function fetchDataset(name: DatasetName, opts: FetchOptions = {}): Promise<string> {
  const src: Source = opts.source ?? SOURCES[name];
  if (!src) throw new DataError(name, `no such data set (known: ${Object.keys(SOURCES).join(', ')})`);
  const log = opts.log ?? (() => {});
  const root = opts.cacheDir ?? defaultCacheDir();
  const target = join(root, name);
  if (existsSync(target) && isIntact(src, target)) {
    log(`${name}: already in ${target}`);
    return target;
  }
  // Staging folders of fetches that were killed are removed first, whatever happens next.
  for (const stale of removeStale(root, new RegExp(`^\\.${name}-(\\d+)-[0-9a-f]+(?:\\.old)?$`))) {
    log(`${name}: removed ${stale}, left by a fetch that was killed`);
  }
  const url = (opts.baseUrl ?? src.url).replace(/\/+$/, '');
  // TypeScript cannot correlate src.kind with src, so the registry entry is widened to Source here.
  const staged = await (FETCHERS[src.kind] as Fetcher<Source>)(src, url, log, name);
  installSet(root, name, staged);
  log(`${name}: ${staged.length} files verified into ${target}`);
  return target;
}

/**
 * Writes verified files into a staging folder beside `<root>/<name>` and swaps it into place;
 * a previous (damaged) copy is moved aside first and removed after. The staging folder names
 * its writer's PID, so a fetch killed before the swap is cleaned up by the next one, and is
 * made with mkdir's default mode (not mkdtemp's 0700): the umask decides who may read the set,
 * as for any folder the user makes, so a cache shared between users stays readable.
 */
export function installSet(root: string, name: string, staged: Staged[]): string {
  const target = join(root, name);
  mkdirSync(root, { recursive: true });
  const temp = join(root, `.${name}-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(temp);
  try {
    for (const f of staged) {
      mkdirSync(dirname(join(temp, f.local)), { recursive: true });
      writeFileSync(join(temp, f.local), f.data);
    }
    const old = existsSync(target) ? `${temp}.old` : undefined;
    if (old) renameSync(target, old);
    renameSync(temp, target);
    if (old) rmSync(old, { recursive: true, force: true });
  } catch (e) {
    rmSync(temp, { recursive: true, force: true });
    throw e;
  }
  return target;
}

async function fetchFiles(src: FilesSource, url: string, log: (l: string) => void, set: string): Promise<Staged[]> {
  const staged: Staged[] = [];
  for (const f of src.files) {
    // Gzip never grows data by more than a few bytes per 32 KiB block, so 2x plus 1 MiB is ample.
    const data = await download(`${url}/${f.remote}`, 2 * f.bytes + (1 << 20), `${set}/${f.local}`);
    verify(f, data, `${set}/${f.local}`);
    log(`${set}/${f.local}: ${data.length} bytes, sha256 ok`);
    staged.push({ local: f.local, data });
  }
  return staged;
}

async function fetchArchive(src: ArchiveSource, url: string, log: (l: string) => void, set: string): Promise<Staged[]> {
  const label = `${set}/${src.archive}`;
  const archive = await download(`${url}/${src.archive}`, src.maxBytes, label);
  log(`${label}: ${archive.length} bytes`);
  const expected = readManifest(src);
  const staged = new Map<string, Staged>();
  for (const file of readTar(gunzipBounded(archive, label, src.maxBytes), label)) {
    // Only TOP/member/FILE entries are candidates, and only names in the manifest are kept.
    const parts = file.path.split('/');
    if (parts.length !== 3 || parts[1] !== src.member) continue;
    const local = `${src.member}/${parts[2]}`;
    const sum = expected.get(local);
    if (sum === undefined) {
      log(`${label}: skipping ${local}, which the manifest does not list`);
      continue;
    }
    if (staged.has(local)) throw new DataError(label, `archive holds ${local} twice`);
    const actual = sha256(file.data);
    if (actual !== sum) throw new DataError(`${set}/${local}`, `sha256 mismatch (expected ${sum}, got ${actual})`);
    staged.set(local, { local, data: file.data });
  }
  const missing = [...expected.keys()].filter((k) => !staged.has(k));
  if (missing.length) {
    throw new DataError(label, `archive lacks ${missing.length} of the ${expected.size} manifest files (first: ${missing[0]})`);
  }
  return [...staged.values()];
}

/** The manifest as a map from local path to SHA-256; its names are plain "member/FILE". */
function readManifest(src: ArchiveSource): Map<string, string> {
  const file = resolve(dirname(fileURLToPath(import.meta.url)), src.manifest);
  const map = new Map<string, string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const m = /^([0-9a-f]{64}) {2}([A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+)$/.exec(line);
    if (!m || m[2].split('/')[0] !== src.member) throw new DataError(src.manifest, `bad manifest line ${JSON.stringify(line)}`);
    map.set(m[2], m[1]);
  }
  return map;
}

/** GETs `url` into memory, refusing a body larger than `limit` bytes while it streams in. */
async function download(url: string, limit: number, label: string): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow' });
  } catch (e) {
    // `fetch` itself takes no --data-dir: a copy already at hand is read by train/eval with it.
    // undici says only "fetch failed"; the cause (ECONNREFUSED, ENOTFOUND, ...) is the news.
    const cause = (e as Error & { cause?: Error }).cause;
    const why = cause?.message ? `${(e as Error).message}: ${cause.message}` : (e as Error).message;
    throw new DataError(label, `cannot download ${url} (${why}); offline? train and eval read a copy you already have with --data-dir DIR`);
  }
  if (!res.ok || !res.body) {
    // Release the connection rather than leave an unread error body holding it.
    await res.body?.cancel().catch(() => {});
    throw new DataError(label, `GET ${url} answered ${res.status} ${res.statusText}`);
  }
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of res.body) {
    total += chunk.length;
    if (total > limit) {
      await res.body.cancel().catch(() => {});
      throw new DataError(label, `download from ${url} exceeds the ${limit}-byte limit`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, total);
}

/** Checks the content hash, inflating gzip files (bounded by the expected size) first. */
function verify(f: FileEntry, data: Uint8Array, label: string): void {
  const content = f.gzip ? gunzipBounded(data, label, f.bytes) : data;
  if (content.length !== f.bytes) throw new DataError(label, `content is ${content.length} bytes, expected ${f.bytes}`);
  const actual = sha256(content);
  if (actual !== f.sha256) throw new DataError(label, `sha256 mismatch (expected ${f.sha256}, got ${actual})`);
}

/** True when every file of the set is present with the right content. */
function isIntact(src: Source, dir: string): boolean {
  try {
    if (src.kind === 'files') {
      for (const f of src.files) verify(f, readFileSync(join(dir, f.local)), f.local);
    } else {
      for (const [local, sum] of readManifest(src)) if (sha256(readFileSync(join(dir, local))) !== sum) return false;
    }
    return true;
  } catch {
    return false;
  }
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
