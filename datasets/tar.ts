import { DataError } from './errors.js';

/** A regular file of a tar archive, with its path as the archive names it (after pax/GNU overrides). */
export interface TarFile {
  path: string;
  data: Uint8Array;
}

const BLOCK = 512;

/**
 * Lists the regular files of a ustar/pax/GNU tar archive held in memory, refusing the whole
 * archive at the first entry that could write outside the directory it is unpacked into: an
 * absolute path, a ".." component, a hard or symbolic link, or a device, FIFO or other special
 * file. Refusing (not skipping) is deliberate: such an entry in a data set archive means it is
 * not the archive we asked for. Every header checksum and size is checked against the bytes.
 */
export function readTar(bytes: Uint8Array, name: string): TarFile[] {
  const files: TarFile[] = [];
  let longPath: string | undefined;
  for (let at = 0; at + BLOCK <= bytes.length; ) {
    const h = bytes.subarray(at, at + BLOCK);
    if (h.every((b) => b === 0)) return files; // end-of-archive marker
    checkChecksum(h, name, at);
    const size = octal(h, 124, 12, name, at);
    const body = at + BLOCK;
    if (size > bytes.length - body) {
      throw new DataError(name, `truncated tar entry at byte ${at} (declares ${size} bytes, ${Math.max(0, bytes.length - body)} present)`);
    }
    const data = bytes.subarray(body, body + size);
    at = body + Math.ceil(size / BLOCK) * BLOCK;
    const type = String.fromCharCode(h[156] || 0x30);
    if (type === 'g') continue; // pax global header: archive-wide comments (GitHub puts the commit id here)
    if (type === 'x' || type === 'L') {
      // A pax "path=" record or a GNU long name replaces the next entry's name.
      longPath = type === 'L' ? cString(data, 0, data.length) : paxPath(data, name) ?? longPath;
      continue;
    }
    const prefix = cString(h, 257, 6) === 'ustar' ? cString(h, 345, 155) : '';
    const path = longPath ?? (prefix ? `${prefix}/${cString(h, 0, 100)}` : cString(h, 0, 100));
    longPath = undefined;
    checkPath(path, name);
    if (type === '1' || type === '2') throw new DataError(name, `archive entry "${path}" is a ${type === '1' ? 'hard' : 'symbolic'} link; refusing the archive`);
    if (type === '5') continue; // a directory: created implicitly by the files in it
    if (type !== '0' && type !== '7') throw new DataError(name, `archive entry "${path}" has special type '${type}'; refusing the archive`);
    files.push({ path, data });
  }
  throw new DataError(name, 'tar archive ends without its end-of-archive blocks');
}

/** Paths must be relative and stay below the root: no leading "/", no "..", no NUL or backslash. */
function checkPath(path: string, name: string): void {
  if (path === '' || path.startsWith('/') || /^[A-Za-z]:/.test(path) || /[\0\\]/.test(path) || path.split('/').includes('..')) {
    throw new DataError(name, `archive entry "${path}" would unpack outside its directory; refusing the archive`);
  }
}

/** POSIX header checksum: the byte sum of the header with the checksum field read as spaces. */
function checkChecksum(h: Uint8Array, name: string, at: number): void {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i];
  const stored = octal(h, 148, 8, name, at);
  if (stored !== sum) throw new DataError(name, `tar header at byte ${at} has checksum ${stored}, computed ${sum}`);
}

function octal(h: Uint8Array, off: number, len: number, name: string, at: number): number {
  const s = cString(h, off, len).trim();
  if (!/^[0-7]+$/.test(s)) throw new DataError(name, `tar header at byte ${at} has a bad octal field ${JSON.stringify(s)} at offset ${off}`);
  return parseInt(s, 8);
}

/** The "path" record of pax extended header data: lines "LEN key=value\n" (POSIX.1-2001). */
function paxPath(data: Uint8Array, name: string): string | undefined {
  const s = new TextDecoder().decode(data);
  let path: string | undefined;
  for (let at = 0; at < s.length; ) {
    const space = s.indexOf(' ', at);
    const len = Number(s.slice(at, space));
    if (space < 0 || !Number.isInteger(len) || len <= space - at || at + len > s.length) {
      throw new DataError(name, `malformed pax record at ${at} of an extended header`);
    }
    const record = s.slice(space + 1, at + len - 1);
    if (record.startsWith('path=')) path = record.slice(5);
    at += len;
  }
  return path;
}

function cString(b: Uint8Array, off: number, len: number): string {
  const field = b.subarray(off, off + len);
  const end = field.indexOf(0);
  return new TextDecoder().decode(end < 0 ? field : field.subarray(0, end));
}
