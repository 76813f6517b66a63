/**
 * metrics.jsonl: one JSON object per line, a "step" line per optimizer step and an "epoch" line
 * per epoch. The file holds only what the computation determines (no clock times), so a resumed
 * run's file is byte-identical to an uninterrupted run's with the same seed on the CPU backend.
 */
import { closeSync, existsSync, fsyncSync, ftruncateSync, openSync, readFileSync, statSync, writeSync } from 'node:fs';
import { RunFileError } from './errors.js';

export interface StepMetrics {
  kind: 'step';
  step: number;
  epoch: number;
  loss: number;
  /** The optimizer's own numbers (learning rate; or damping, ρ, CG iterations for HF). */
  [extra: string]: unknown;
}

export interface TestMetrics {
  loss: number;
  accuracy: number;
  n: number;
}

export interface EpochMetrics {
  kind: 'epoch';
  epoch: number;
  step: number;
  trainLoss: number;
  /** Per held-out set, by name. */
  test: Record<string, TestMetrics>;
}

export type MetricsLine = StepMetrics | EpochMetrics;

export class MetricsLog {
  private readonly fd: number;
  private size: number;

  /** Opens `path` for appending; `keepBytes` (resume) cuts it back to what the checkpoint covered. */
  constructor(
    readonly path: string,
    keepBytes = 0,
  ) {
    const exists = existsSync(path);
    const have = exists ? statSync(path).size : 0;
    if (have < keepBytes) {
      throw new RunFileError(path, `holds ${have} bytes, but the checkpoint covers ${keepBytes}; the run directory is inconsistent`);
    }
    this.fd = openSync(path, exists ? 'r+' : 'w');
    ftruncateSync(this.fd, keepBytes);
    this.size = keepBytes;
  }

  /** Bytes written so far (what a checkpoint records). */
  get bytes(): number {
    return this.size;
  }

  append(line: MetricsLine): void {
    const buf = Buffer.from(`${JSON.stringify(line)}\n`, 'utf8');
    for (let at = 0; at < buf.length; ) at += writeSync(this.fd, buf, at, buf.length - at, this.size + at);
    this.size += buf.length;
  }

  /** Flushes to disk, before a checkpoint claims these bytes. */
  sync(): void {
    fsyncSync(this.fd);
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Reads metrics.jsonl back (for plots and `eval`); a line that is not JSON is an error naming it. */
export function readMetrics(path: string): MetricsLine[] {
  const lines = readFileSync(path, 'utf8').split('\n');
  const out: MetricsLine[] = [];
  lines.forEach((line, i) => {
    if (line === '') return;
    try {
      out.push(JSON.parse(line) as MetricsLine);
    } catch {
      throw new RunFileError(path, `line ${i + 1} is not JSON`);
    }
  });
  return out;
}
