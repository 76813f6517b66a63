import { gunzipSync } from 'node:zlib';
import { DataError } from './errors.js';

/** Upper bound on what one file may inflate to, unless the caller names another. */
export const DEFAULT_MAX_BYTES = 1 << 30;

/** True when the bytes start with the gzip magic 1f 8b (RFC 1952 §2.3.1). */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Inflates a single-member gzip stream without trusting it. The trailer's ISIZE (RFC 1952: the
 * inflated length mod 2^32) is checked against `maxBytes` before anything is allocated, and the
 * inflater is told to stop at ISIZE: a bomb that lies about its size is cut off there, one that
 * tells the truth is refused at once. zlib itself verifies the CRC-32 and the length.
 */
export function gunzipBounded(bytes: Uint8Array, name: string, maxBytes = DEFAULT_MAX_BYTES): Uint8Array {
  if (bytes.length < 18) throw new DataError(name, `gzip stream of ${bytes.length} bytes is shorter than its 18-byte header and trailer`);
  const isize = new DataView(bytes.buffer, bytes.byteOffset + bytes.length - 4, 4).getUint32(0, true);
  if (isize > maxBytes) {
    throw new DataError(name, `gzip trailer declares ${isize} inflated bytes, above the limit of ${maxBytes}`);
  }
  let out: Buffer;
  try {
    out = gunzipSync(bytes, { maxOutputLength: Math.max(isize, 1) });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'ERR_BUFFER_TOO_LARGE') {
      throw new DataError(name, `gzip stream inflates past the ${isize} bytes its trailer declares`);
    }
    throw new DataError(name, `corrupt gzip stream (${err.message})`);
  }
  if (out.length !== isize) {
    throw new DataError(name, `gzip stream inflates to ${out.length} bytes, its trailer declares ${isize}`);
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/** The bytes as stored, or inflated when they carry the gzip magic. */
export function maybeGunzip(bytes: Uint8Array, name: string, maxBytes = DEFAULT_MAX_BYTES): Uint8Array {
  return isGzip(bytes) ? gunzipBounded(bytes, name, maxBytes) : bytes;
}
