/**
 * Writers of tiny synthetic files for the reader tests: each follows the format's spec directly
 * (not our readers), so a reader bug cannot cancel out against a writer bug.
 */

/** A RIFF/WAVE file from raw little-endian sample bytes. `extensible` wraps the format in WAVE_FORMAT_EXTENSIBLE. */
export function makeWav(opts: { format: 1 | 3; bits: number; channels: number; rate: number; data: Uint8Array; extensible?: boolean }): Uint8Array {
  const fmtSize = opts.extensible ? 40 : 16;
  const out = new Uint8Array(12 + 8 + fmtSize + 8 + opts.data.length + (opts.data.length & 1));
  const v = new DataView(out.buffer);
  const tag = (at: number, s: string) => [...s].forEach((c, i) => (out[at + i] = c.charCodeAt(0)));
  const blockAlign = (opts.channels * opts.bits) / 8;
  tag(0, 'RIFF');
  v.setUint32(4, out.length - 8, true);
  tag(8, 'WAVE');
  tag(12, 'fmt ');
  v.setUint32(16, fmtSize, true);
  v.setUint16(20, opts.extensible ? 0xfffe : opts.format, true);
  v.setUint16(22, opts.channels, true);
  v.setUint32(24, opts.rate, true);
  v.setUint32(28, opts.rate * blockAlign, true);
  v.setUint16(32, blockAlign, true);
  v.setUint16(34, opts.bits, true);
  if (opts.extensible) {
    v.setUint16(36, 22, true); // cbSize
    v.setUint16(38, opts.bits, true); // valid bits
    v.setUint32(40, 0, true); // channel mask
    v.setUint16(44, opts.format, true); // SubFormat GUID starts with the format code
  }
  const dataAt = 20 + fmtSize;
  tag(dataAt, 'data');
  v.setUint32(dataAt + 4, opts.data.length, true);
  out.set(opts.data, dataAt + 8);
  return out;
}

/** An IDX file: magic 00 00 TYPE NDIMS, big-endian sizes, big-endian data written by `put`. */
export function makeIdx(type: number, bytesPer: number, shape: number[], values: number[], put: (v: DataView, at: number, x: number) => void): Uint8Array {
  const head = 4 + 4 * shape.length;
  const out = new Uint8Array(head + values.length * bytesPer);
  const v = new DataView(out.buffer);
  out[2] = type;
  out[3] = shape.length;
  shape.forEach((n, d) => v.setUint32(4 + 4 * d, n));
  values.forEach((x, i) => put(v, head + i * bytesPer, x));
  return out;
}

/** A single-file NIfTI-1 (.nii): 348-byte header, 4 bytes of extension flags, voxels at 352. */
export function makeNifti(opts: {
  dims: number[];
  datatype: number;
  bitpix: number;
  pixdim?: number[];
  slope?: number;
  inter?: number;
  littleEndian: boolean;
  values: number[];
  put: (v: DataView, at: number, x: number, le: boolean) => void;
}): Uint8Array {
  const le = opts.littleEndian;
  const out = new Uint8Array(352 + (opts.values.length * opts.bitpix) / 8);
  const v = new DataView(out.buffer);
  v.setInt32(0, 348, le);
  v.setInt16(40, opts.dims.length, le);
  opts.dims.forEach((n, d) => v.setInt16(42 + 2 * d, n, le));
  v.setInt16(70, opts.datatype, le);
  v.setInt16(72, opts.bitpix, le);
  (opts.pixdim ?? [1, 1, 1]).forEach((p, d) => v.setFloat32(80 + 4 * d, p, le));
  v.setFloat32(108, 352, le);
  v.setFloat32(112, opts.slope ?? 0, le);
  v.setFloat32(116, opts.inter ?? 0, le);
  out.set([0x6e, 0x2b, 0x31, 0], 344); // "n+1\0"
  opts.values.forEach((x, i) => opts.put(v, 352 + (i * opts.bitpix) / 8, x, le));
  return out;
}

/** A ustar archive of the given entries (type '0' file, '2' symlink, 'g'/'x' pax headers, '5' directory). */
export function makeTar(entries: { path: string; data?: Uint8Array; type?: string; link?: string; prefix?: string }[]): Uint8Array {
  const blocks: Uint8Array[] = [];
  const enc = new TextEncoder();
  for (const e of entries) {
    const data = e.data ?? new Uint8Array(0);
    const h = new Uint8Array(512);
    const put = (at: number, s: string) => h.set(enc.encode(s), at);
    put(0, e.path);
    put(100, '0000644\0');
    put(108, '0000000\0');
    put(116, '0000000\0');
    put(124, data.length.toString(8).padStart(11, '0') + '\0');
    put(136, '00000000000\0');
    put(156, e.type ?? '0');
    if (e.link) put(157, e.link);
    put(257, 'ustar\0');
    put(263, '00');
    if (e.prefix) put(345, e.prefix);
    h.fill(0x20, 148, 156);
    const sum = h.reduce((a, b) => a + b, 0);
    put(148, sum.toString(8).padStart(6, '0') + '\0 ');
    blocks.push(h);
    const body = new Uint8Array(Math.ceil(data.length / 512) * 512);
    body.set(data);
    blocks.push(body);
  }
  blocks.push(new Uint8Array(1024));
  return Buffer.concat(blocks);
}

/** A pax extended-header body with one record: "LEN key=value\n", LEN counting itself. */
export function paxRecord(key: string, value: string): Uint8Array {
  const rest = ` ${key}=${value}\n`;
  let len = rest.length + 1;
  while (String(len).length + rest.length !== len) len++;
  return new TextEncoder().encode(`${len}${rest}`);
}
