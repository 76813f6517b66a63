/**
 * Atomic file replacement: write a temporary file beside the target, fsync it, rename it over
 * the target, fsync the directory. rename(2) within one directory is atomic, so a reader (or a
 * resumed run after a kill at any instant) sees either the complete old file or the complete
 * new one, never a mixture; the fsyncs make that survive a power cut too, not just a kill.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FormatError } from './errors.js';

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  const fd = openSync(temp, 'w', 0o644);
  try {
    for (let at = 0; at < bytes.length; ) at += writeSync(fd, bytes, at, bytes.length - at);
    fsyncSync(fd);
  } catch (e) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw e;
  }
  closeSync(fd);
  try {
    renameSync(temp, path);
  } catch (e) {
    rmSync(temp, { force: true });
    const code = (e as NodeJS.ErrnoException).code;
    // rename(2) names the temporary; say what is wrong with the file the caller asked for.
    if (code === 'EISDIR' || code === 'ENOTEMPTY' || code === 'EEXIST') throw new FormatError(path, 'is a directory, so it cannot be written as a file');
    throw e;
  }
  syncDirectory(dirname(path));
}

/** Makes a rename durable; some file systems refuse fsync on directories, which is harmless. */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // Not supported here (e.g. some network file systems): the rename is still atomic.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
