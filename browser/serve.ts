/**
 * `npm run demo`: builds the pages (build.ts) and serves browser/ on this machine only
 * (127.0.0.1), printing the address. The pages must be served: browsers refuse ES modules and
 * fetch() on file:// addresses. Every response carries the COOP/COEP headers that make the page
 * cross-origin isolated (SharedArrayBuffer, so the CPU backend's threads). Port: --port N or PORT (default 8080; 0 picks a free one).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildBrowser } from './build.js';

const ROOT = fileURLToPath(new URL('.', import.meta.url));
const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.map': 'application/json',
  '.bin': 'application/octet-stream',
};

/** Serves the files under browser/ (pages and dist/), nothing else; resolves once listening. */
export function serveBrowser(port: number): Promise<Server> {
  const server = createServer((req, res) => {
    const pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    const path = normalize(join(ROOT, pathname.endsWith('/') ? `${pathname}index.html` : pathname));
    const type = TYPES[extname(path)];
    if (!path.startsWith(ROOT) || path.slice(ROOT.length).split(sep).some((p) => p.startsWith('.')) || !type || !existsSync(path) || !statSync(path).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end(`not found: ${pathname}\n`);
      return;
    }
    // Cross-origin isolation (COOP + COEP): the page gets SharedArrayBuffer, which the CPU backend's Web Worker threads share memory through.
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store', 'cross-origin-opener-policy': 'same-origin', 'cross-origin-embedder-policy': 'require-corp' });
    res.end(readFileSync(path));
  });
  return new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', () => ok(server));
  });
}

export function urlOf(server: Server): string {
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

function portFromArgs(): number {
  const i = process.argv.indexOf('--port');
  const raw = i >= 0 ? process.argv[i + 1] : (process.env.PORT ?? '8080');
  const port = Number(raw);
  if (!(Number.isInteger(port) && port >= 0 && port < 65536)) {
    console.error(`demo: --port/PORT must be an integer 0..65535, got ${JSON.stringify(raw)}`);
    process.exit(2);
  }
  return port;
}

async function main(): Promise<void> {
  const port = portFromArgs();
  process.stdout.write('demo: building the pages… ');
  await buildBrowser();
  console.log('done');
  let server: Server;
  try {
    server = await serveBrowser(port);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    console.error(`demo: cannot listen on 127.0.0.1:${port} (${code ?? (e as Error).message}); try --port 0 for any free port`);
    process.exit(1);
  }
  const url = urlOf(server);
  console.log(`demo: open ${url} (MNIST training, GPU and CPU backends)`);
  console.log(`demo: backend check page at ${url}check.html; Ctrl-C stops the server`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((e: unknown) => {
    console.error(`demo: ${(e as Error).message.split('\n')[0]}`);
    process.exit(1);
  });
}
