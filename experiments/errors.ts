/**
 * How the command line reports failure: ONE line on stderr naming the problem, a non-zero exit,
 * never a stack trace. Errors we expect (bad flags, bad or missing data, bad checkpoints,
 * impossible shapes) carry their own message; anything else is a bug and says so, with the
 * stack behind NDCNN_DEBUG=1.
 */
import { DataError } from '../datasets/index.js';
import { ShapeError } from '../src/nd/shape.js';

/** A flag or setting the user can fix: exit status 2, as for usage errors in most tools. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A run directory or checkpoint that cannot be used: what is wrong with which file. */
export class RunFileError extends Error {
  override name = 'RunFileError';

  constructor(
    readonly file: string,
    readonly problem: string,
  ) {
    super(`${file}: ${problem}`);
  }
}

export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Node's fs errors carry a code and a path; show them as "PATH: no such file or directory". */
const FS_PROBLEMS: Record<string, string> = {
  ENOENT: 'no such file or directory',
  EACCES: 'permission denied',
  EISDIR: 'is a directory, expected a file',
  EEXIST: 'already exists and is not a directory',
  ENOTDIR: 'a component of the path is not a directory',
  ENOSPC: 'no space left on the device',
  EROFS: 'read-only file system',
};

/** The single line to print for `e`, and the exit status. */
export function describeError(e: unknown): { line: string; status: number } {
  if (e instanceof UsageError) return { line: e.message, status: EXIT_USAGE };
  if (e instanceof DataError || e instanceof RunFileError || e instanceof ShapeError || e instanceof RangeError) {
    return { line: e.message, status: EXIT_FAILURE };
  }
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === 'string' && err.path && FS_PROBLEMS[err.code]) {
    return { line: `${err.path}: ${FS_PROBLEMS[err.code]}`, status: EXIT_FAILURE };
  }
  if (e instanceof Error) return { line: e.message, status: EXIT_FAILURE };
  return { line: `unexpected failure: ${String(e)}`, status: EXIT_FAILURE };
}

/** Prints the one line (the first line of the message) and returns the exit status. */
export function reportError(e: unknown, write: (s: string) => void = (s) => process.stderr.write(s)): number {
  const { line, status } = describeError(e);
  write(`ndcnn: ${line.split('\n')[0]}\n`);
  if (process.env.NDCNN_DEBUG && e instanceof Error && e.stack) write(`${e.stack}\n`);
  return status;
}
