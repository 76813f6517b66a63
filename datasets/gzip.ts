import { gunzipSync } from 'node:zlib';
import { DataError } from './errors.js';

/** Upper bound on what one file may inflate to, unless the caller names another. */
export const DEFAULT_MAX_BYTES = 1 << 30;

/** True when the bytes start with the gzip magic 1f 8b (RFC 1952 §2.3.1). */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Inflates a gzip stream without trusting it. The trailer's ISIZE (RFC 1952: the last member's
 * inflated length mod 2^32) is checked against `maxBytes` before anything is allocated, and the
 * inflater is told to stop at ISIZE: a bomb that tells the truth is refused at once. A stream
 * that goes past ISIZE is either a liar or has several members (RFC 1952 §2.2; `cat a.gz b.gz`,
 * pigz, bgzip), which zlib inflates in turn, checking each member's CRC-32 and length: it is
 * inflated again up to `maxBytes`, and only a stream zlib accepts whole is taken. The cost stays
 * proportional to the input: deflate cannot inflate more than 1032-fold.
 */
export function gunzipBounded(bytes: Uint8Array, name: string, maxBytes = DEFAULT_MAX_BYTES): Uint8Array {
  if (bytes.length < 18) throw new DataError(name, `gzip stream of ${bytes.length} bytes is shorter than its 18-byte header and trailer`);
  const isize = new DataView(bytes.buffer, bytes.byteOffset + bytes.length - 4, 4).getUint32(0, true);
  if (isize > maxBytes) {
    throw new DataError(name, `gzip trailer declares ${isize} inflated bytes, above the limit of ${maxBytes}`);
  }
  const inflate = (limit: number): Buffer => gunzipSync(bytes, { maxOutputLength: Math.max(limit, 1) });
  let out: Buffer;
  try {
    out = inflate(isize);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') throw corrupt(name, e);
    try {
      out = inflate(maxBytes);
    } catch (again) {
      const code = (again as NodeJS.ErrnoException).code;
      if (code === 'ERR_BUFFER_TOO_LARGE') throw new DataError(name, `gzip stream inflates past the limit of ${maxBytes} bytes`);
      throw new DataError(name, `gzip stream inflates past the ${isize} bytes its trailer declares`);
    }
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

function corrupt(name: string, e: unknown): DataError {
  return new DataError(name, `corrupt gzip stream (${(e as Error).message})`);
}

/** The bytes as stored, or inflated when they carry the gzip magic. */
export function maybeGunzip(bytes: Uint8Array, name: string, maxBytes = DEFAULT_MAX_BYTES): Uint8Array {
  return isGzip(bytes) ? gunzipBounded(bytes, name, maxBytes) : bytes;
}
