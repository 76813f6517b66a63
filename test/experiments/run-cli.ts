/** The CLI in-process with captured output, and the one-line error contract, for CLI tests. */
import { expect } from 'vitest';
import { main } from '../../experiments/cli.js';

/** `main` in-process, with stdout and stderr captured. */
export async function inProcess(...args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  let stdout = '';
  let stderr = '';
  const status = await main(args, { out: (t) => (stdout += t), err: (t) => (stderr += t), tty: false });
  return { status, stdout, stderr };
}

/** Exactly one non-empty stderr line, starting "ndcnn: ", no stack frame; returns the line. */
export function oneLine(r: { stderr: string }): string {
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^ndcnn: /);
  expect(r.stderr).not.toMatch(/\n\s+at /);
  return lines[0];
}
