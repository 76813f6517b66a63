/**
 * A real Redis for the sweep tests: Debian's redis-server started on 127.0.0.1 at a free port
 * with its own temporary directory (append-only file on, fsync always, so a SIGKILL loses
 * nothing), never the system service. Missing binary: `redisMissing` says why; the tests skip
 * with that reason, except under CI=true, where they run and fail (a CI that skipped its
 * distribution tests would prove nothing).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' });
export const redisMissing: string | null = probe.error ? `redis-server not found (${(probe.error as NodeJS.ErrnoException).code}); install Debian's redis-server` : null;
export const inCI = process.env.CI === 'true';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

export class RedisServer {
  private proc?: ChildProcess;
  readonly dir = mkdtempSync(join(tmpdir(), 'ndcnn-redis-'));

  private constructor(readonly port: number) {}

  static async start(): Promise<RedisServer> {
    const r = new RedisServer(await freePort());
    await r.restart();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts (again) on the same port and directory, so it reloads its append-only file. */
  async restart(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always'];
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    let out = '';
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`redis-server did not start within 20 s: ${out}`)), 20_000);
      proc.stdout?.on('data', (c: Buffer) => {
        out += c.toString();
        if (/Ready to accept connections/.test(out)) {
          clearTimeout(timer);
          resolve();
        }
      });
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`redis-server exited (${code}): ${out}`));
      });
    });
  }

  /** Stops it: SIGKILL for a crash, SIGTERM for a clean stop. */
  async stop(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      p.once('exit', () => resolve());
      p.kill(signal);
    });
  }
}
