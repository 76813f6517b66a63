/**
 * Zip archives built field by field for the hostile-input tests: any header field can be
 * overridden with a lie (its CRC-32, sizes, name in the local header, compression method, flags)
 * and a member cut short. No ZIP64: members stay under 4 GiB.
 */
import { crc32, deflateRawSync } from 'node:zlib';

export interface MemberSpec {
  name: string;
  /** The uncompressed content. */
  data: Uint8Array;
  /** 0 stored, 8 deflated (default 0). */
  method?: number;
  /** Lies in the central directory (and the local header, which readers of the directory ignore). */
  crc?: number;
  size?: number;
  compressedSize?: number;
  flags?: number;
  /** The name in the local header, when it should disagree with the directory's. */
  localName?: string;
  /** Bytes dropped from the end of the stored or deflated data (offsets and sizes follow: a member cut short, consistently). */
  cut?: number;
}

export function zipArchive(members: MemberSpec[], o: { comment?: number; cdOffsetDelta?: number } = {}): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let at = 0;
  for (const m of members) {
    const method = m.method ?? 0;
    const whole = method === 8 ? deflateRawSync(m.data) : m.data;
    const body = whole.subarray(0, whole.length - (m.cut ?? 0));
    const name = Buffer.from(m.name);
    const fields = { flags: m.flags ?? 0, method, crc: m.crc ?? crc32(m.data), compressed: m.compressedSize ?? body.length, size: m.size ?? m.data.length };
    const local = header(30, Buffer.from(m.localName ?? m.name), (v) => {
      v.setUint32(0, 0x04034b50, true);
      v.setUint16(4, 20, true);
      v.setUint16(6, fields.flags, true);
      v.setUint16(8, fields.method, true);
      v.setUint32(14, fields.crc, true);
      v.setUint32(18, fields.compressed, true);
      v.setUint32(22, fields.size, true);
      v.setUint16(26, Buffer.byteLength(m.localName ?? m.name), true);
    });
    central.push(
      header(46, name, (v) => {
        v.setUint32(0, 0x02014b50, true);
        v.setUint16(4, 20, true);
        v.setUint16(6, 20, true);
        v.setUint16(8, fields.flags, true);
        v.setUint16(10, fields.method, true);
        v.setUint32(16, fields.crc, true);
        v.setUint32(20, fields.compressed, true);
        v.setUint32(24, fields.size, true);
        v.setUint16(28, name.length, true);
        v.setUint32(42, at, true);
      }),
    );
    parts.push(local, body);
    at += local.length + body.length;
  }
  const cd = concat(central);
  const end = new Uint8Array(22);
  const v = new DataView(end.buffer);
  v.setUint32(0, 0x06054b50, true);
  v.setUint16(8, members.length, true);
  v.setUint16(10, members.length, true);
  v.setUint32(12, cd.length, true);
  v.setUint32(16, at + (o.cdOffsetDelta ?? 0), true);
  v.setUint16(20, o.comment ?? 0, true);
  return concat([...parts, cd, end]);
}

function header(fixed: number, name: Uint8Array, fill: (v: DataView) => void): Uint8Array {
  const b = new Uint8Array(fixed + name.length);
  fill(new DataView(b.buffer));
  b.set(name, fixed);
  return b;
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A .npy header (version 1.0, padded to 64 bytes as NumPy pads it) for data of `descr` and `shape`. */
export function npyHeader(descr: string, shape: number[]): Uint8Array {
  const dims = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let h = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${dims}, }`;
  h += ' '.repeat(63 - ((10 + h.length) % 64)) + '\n';
  const out = new Uint8Array(10 + h.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, h.length, true);
  out.set(Buffer.from(h, 'latin1'), 10);
  return out;
}
