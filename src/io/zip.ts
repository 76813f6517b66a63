/**
 * Reading zip archives (.npz) from bytes, as strictly as Python's zipfile reads them and with a
 * bounded cost. fflate's unzipSync falls short here (measured with hostile archives): it keys
 * members by name in a plain object, so a repeated name or '__proto__' silently vanishes; it
 * checks no CRC-32; and a member whose declared size lies is cut short, padded or refused as
 * "offset is out of bounds". So the central directory is read here, every member is checked
 * against its local header, its neighbours and the archive's end, and inflated by Node's zlib
 * straight into a buffer of the declared size, which bounds both its memory and its time.
 *
 * Layout (APPNOTE.TXT): local header + data for each member, then the central directory (one
 * entry per member: sizes, CRC, where its local header is), then the end-of-central-directory
 * record (EOCD), preceded by the ZIP64 EOCD and its locator when counts or offsets overflow
 * 16/32 bits (NumPy's savez always writes ZIP64 local headers).
 */
import { crc32, inflateRawSync } from 'node:zlib';
import { FormatError } from './errors.js';

export interface ZipMember {
  name: string;
  /** 0 stored, 8 deflate. */
  method: number;
  crc: number;
  compressedSize: number;
  size: number;
  /** Where the member's data begins (after its local header). */
  dataOffset: number;
}

const EOCD = 0x06054b50;
const ZIP64_LOCATOR = 0x07064b50;
const ZIP64_EOCD = 0x06064b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;
const MAX_COMMENT = 0xffff;

/** The members of the archive `bytes`, checked; `fail` names the archive in errors. */
export function zipMembers(bytes: Uint8Array, fail: (problem: string) => FormatError): ZipMember[] {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const eocd = findEocd(v);
  if (eocd < 0) {
    const start = bytes.length >= 4 && v.getUint32(0, true) === LOCAL ? 'it begins as a zip archive but is truncated' : 'not a zip archive, or a truncated one';
    throw fail(`${start}: no end-of-central-directory record in its last ${Math.min(bytes.length, 22 + MAX_COMMENT)} bytes`);
  }
  const comment = v.getUint16(eocd + 20, true);
  const end = eocd + 22 + comment;
  if (end > bytes.length) throw fail(`the end-of-central-directory record's ${comment}-byte comment runs past the end of the archive (truncated?)`);
  if (end < bytes.length) throw fail(`${bytes.length - end} bytes follow the end-of-central-directory record (something appended?)`);
  let count = v.getUint16(eocd + 10, true);
  let cdSize = v.getUint32(eocd + 12, true);
  let cdOffset = v.getUint32(eocd + 16, true);
  let cdEnd = eocd;
  if (v.getUint16(eocd + 4, true) !== 0 || v.getUint16(eocd + 6, true) !== 0) throw fail('a zip archive split over several disks is not read');
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    const at = eocd - 20;
    if (at < 0 || v.getUint32(at, true) !== ZIP64_LOCATOR) throw fail('the end-of-central-directory record defers to a ZIP64 record that is missing');
    const z = safe(v.getBigUint64(at + 8, true));
    if (z + 56 > at || v.getUint32(z, true) !== ZIP64_EOCD) throw fail(`the ZIP64 locator points at offset ${z}, where there is no ZIP64 end-of-central-directory record`);
    count = safe(v.getBigUint64(z + 32, true));
    cdSize = safe(v.getBigUint64(z + 40, true));
    cdOffset = safe(v.getBigUint64(z + 48, true));
    cdEnd = z;
  }
  if (cdOffset + cdSize !== cdEnd) {
    throw fail(`the central directory is declared at bytes [${cdOffset}, ${cdOffset + cdSize}) but ends at ${cdEnd}, where the end record is (truncated, or sizes that lie)`);
  }
  if (count * 46 > cdSize) throw fail(`${count} members cannot fit a ${cdSize}-byte central directory (46 bytes each at least)`);
  const members: ZipMember[] = [];
  const spans: { name: string; begin: number; end: number }[] = [];
  let p = cdOffset;
  for (let k = 0; k < count; k++) {
    if (p + 46 > cdEnd || v.getUint32(p, true) !== CENTRAL) throw fail(`central directory entry ${k} at offset ${p} is damaged (no entry signature)`);
    const flags = v.getUint16(p + 8, true);
    const method = v.getUint16(p + 10, true);
    const crc = v.getUint32(p + 16, true);
    let compressedSize = v.getUint32(p + 20, true);
    let size = v.getUint32(p + 24, true);
    const nameLength = v.getUint16(p + 28, true);
    const extraLength = v.getUint16(p + 30, true);
    const commentLength = v.getUint16(p + 32, true);
    let local = v.getUint32(p + 42, true);
    const next = p + 46 + nameLength + extraLength + commentLength;
    if (next > cdEnd) throw fail(`central directory entry ${k} runs past the directory's end`);
    const rawName = bytes.subarray(p + 46, p + 46 + nameLength);
    const name = memberName(rawName, flags, () => fail(`the name of member ${k} is not ASCII and not flagged as UTF-8`));
    const what = `member '${name}'`;
    if (flags & 1) throw fail(`${what} is encrypted`);
    if (method !== 0 && method !== 8) throw fail(`${what} uses compression method ${method}; .npz members are stored (0) or deflated (8)`);
    // ZIP64: the 32-bit fields that overflowed are 0xffffffff, their values in extra field 0x0001, in this order.
    if (size === 0xffffffff || compressedSize === 0xffffffff || local === 0xffffffff) {
      const wide = zip64Fields(v, p + 46 + nameLength, extraLength, () => fail(`${what}: its ZIP64 extra field is missing or too short`));
      if (size === 0xffffffff) size = wide();
      if (compressedSize === 0xffffffff) compressedSize = wide();
      if (local === 0xffffffff) local = wide();
    }
    if (local + 30 > cdOffset || v.getUint32(local, true) !== LOCAL) throw fail(`${what}: no local header at offset ${local} (truncated, or offsets that lie)`);
    const localName = bytes.subarray(local + 30, local + 30 + v.getUint16(local + 26, true));
    if (!Buffer.from(localName).equals(rawName)) throw fail(`${what}: its local header names it '${Buffer.from(localName).toString('latin1')}'`);
    if (v.getUint16(local + 8, true) !== method) throw fail(`${what}: its local header gives another compression method`);
    const dataOffset = local + 30 + localName.length + v.getUint16(local + 28, true);
    const end = dataOffset + compressedSize;
    if (end > cdOffset) {
      throw fail(`${what} declares ${compressedSize} compressed bytes from offset ${dataOffset}, past the end of the member data at ${cdOffset} (truncated, or sizes that lie)`);
    }
    if (method === 0 && compressedSize !== size) throw fail(`${what} is stored uncompressed, yet declares ${size} bytes in ${compressedSize}`);
    members.push({ name, method, crc, compressedSize, size, dataOffset });
    spans.push({ name, begin: local, end });
    p = next;
  }
  spans.sort((a, b) => a.begin - b.begin);
  for (let k = 1; k < spans.length; k++) {
    if (spans[k].begin < spans[k - 1].end) throw fail(`members '${spans[k - 1].name}' and '${spans[k].name}' overlap (a zip bomb's trick)`);
  }
  return members;
}

/**
 * The member's bytes in a buffer of their own, of exactly the declared size, CRC-32 checked.
 * zlib inflates into one output buffer of the declared size plus one byte (its chunkSize), so
 * an honest member costs that buffer and no copy, and one that inflates to more than it declares
 * stops at maxOutputLength, having cost no more.
 */
export function extractMember(bytes: Uint8Array, m: ZipMember, fail: (problem: string) => FormatError): Uint8Array {
  const what = `member '${m.name}'`;
  const data = bytes.subarray(m.dataOffset, m.dataOffset + m.compressedSize);
  let out: Uint8Array;
  if (m.method === 0) {
    out = Uint8Array.prototype.slice.call(data);
  } else {
    try {
      out = inflateRawSync(data, { chunkSize: Math.max(64, m.size + 1), maxOutputLength: Math.max(1, m.size) });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') throw fail(`${what} inflates to more than the ${m.size} bytes its directory entry declares`);
      throw fail(`${what}: its deflate data is damaged or truncated (${(e as Error).message})`);
    }
    if (out.length !== m.size) throw fail(`${what} inflates to ${out.length} bytes, not the ${m.size} its directory entry declares`);
  }
  const crc = crc32(out);
  if (crc !== m.crc) throw fail(`${what} fails its CRC-32 check (stored ${hex(m.crc)}, computed ${hex(crc)}): the archive is damaged`);
  return out;
}

/** Offset of the last EOCD signature where a record could begin (the comment may be up to 64 KiB), or -1. */
function findEocd(v: DataView): number {
  for (let at = v.byteLength - 22; at >= Math.max(0, v.byteLength - 22 - MAX_COMMENT); at--) {
    if (v.getUint32(at, true) === EOCD) return at;
  }
  return -1;
}

/** Reads the 64-bit values of a ZIP64 extra field one after another. */
function zip64Fields(v: DataView, extra: number, length: number, missing: () => Error): () => number {
  for (let p = extra; p + 4 <= extra + length; p += 4 + v.getUint16(p + 2, true)) {
    if (v.getUint16(p, true) !== 1) continue;
    const end = Math.min(p + 4 + v.getUint16(p + 2, true), extra + length);
    let at = p + 4;
    return () => {
      if (at + 8 > end) throw missing();
      const x = safe(v.getBigUint64(at, true));
      at += 8;
      return x;
    };
  }
  throw missing();
}

function memberName(raw: Uint8Array, flags: number, bad: () => Error): string {
  // Bit 11: UTF-8. Without it the name is CP437, which agrees with ASCII only.
  if (flags & 0x800) {
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(raw);
    } catch {
      throw bad();
    }
  }
  if (raw.some((c) => c > 0x7f)) throw bad();
  return Buffer.from(raw).toString('latin1');
}

/** A 64-bit size or offset as a number; larger than any array ndcnn reads, so clamped to the unsafe range the checks then refuse. */
function safe(x: bigint): number {
  return x > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(x);
}

function hex(x: number): string {
  return `0x${x.toString(16).padStart(8, '0')}`;
}
