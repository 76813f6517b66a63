/**
 * K-FAC's factors in its JSON state (kfac.ts): copies, the finiteness check, and the encoding.
 * The symmetric A and G travel as their upper triangles, base64 of the little-endian float64
 * bytes: exact, and a sixth of decimal JSON (a 64-channel 5×5 conv's A alone is 801² doubles).
 * The 2×2 blocks stay number[].
 */
import type { ChannelBlock, FactorKind, KroneckerBlock, KroneckerFactors } from '../nd/model.js';
import { allFinite } from '../nd/vec.js';

const NAME = 'kfac';

export function factorsFinite(f: KroneckerFactors): boolean {
  return f.kronecker.every((b) => allFinite(b.A) && allFinite(b.G)) && f.channels.every((b) => allFinite(b.F));
}

export function copyFactors(f: KroneckerFactors): KroneckerFactors {
  return {
    ...f,
    kronecker: f.kronecker.map((b) => ({ ...b, A: b.A.slice(), G: b.G.slice() })),
    channels: f.channels.map((b) => ({ ...b, F: b.F.slice() })),
  };
}

/** JSON-safe factors (see the header). */
export function factorsToJson(f: KroneckerFactors): unknown {
  return {
    kind: f.kind,
    samples: f.samples,
    kronecker: f.kronecker.map((b) => ({ ...b, A: packSymmetric(b.A), G: packSymmetric(b.G) })),
    channels: f.channels.map((b) => ({ ...b, F: Array.from(b.F) })),
  };
}

function packSymmetric(a: Float64Array): string {
  const n = Math.round(Math.sqrt(a.length));
  const upper = new Float64Array((n * (n + 1)) / 2);
  for (let i = 0, k = 0; i < n; i++) for (let j = i; j < n; j++) upper[k++] = a[i * n + j];
  return bytesToBase64(new Uint8Array(upper.buffer));
}

/** The n×n symmetric matrix from packSymmetric's text, or null when the text is not n(n+1)/2 doubles. */
function unpackSymmetric(text: unknown, n: number): Float64Array | null {
  if (typeof text !== 'string') return null;
  const bytes = base64ToBytes(text);
  if (bytes === null || bytes.length !== 4 * n * (n + 1)) return null;
  const upper = new Float64Array(bytes.buffer, bytes.byteOffset, bytes.length / 8);
  const a = new Float64Array(n * n);
  for (let i = 0, k = 0; i < n; i++) for (let j = i; j < n; j++) a[i * n + j] = a[j * n + i] = upper[k++];
  return allFinite(a) ? a : null;
}

/** Base64 without Buffer (the browser build has none); little-endian is every platform JS runs on. */
function bytesToBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function base64ToBytes(text: string): Uint8Array | null {
  let s: string;
  try {
    s = atob(text);
  } catch {
    return null;
  }
  // A fresh buffer: Float64Array views need 8-byte alignment.
  const bytes = new Uint8Array(new ArrayBuffer(s.length));
  for (let i = 0; i < s.length; i++) bytes[i] = s.charCodeAt(i);
  return bytes;
}

export function factorsFromJson(v: unknown, key: string): KroneckerFactors {
  const bad = (what: string): never => {
    throw new Error(`${NAME}.loadState: '${key}' ${what}`);
  };
  if (typeof v !== 'object' || v === null) return bad('must be an object of factors');
  const o = v as Record<string, unknown>;
  if (!Array.isArray(o.kronecker) || !Array.isArray(o.channels)) return bad('needs kronecker and channels arrays');
  const nums = (x: unknown, what: string) =>
    Array.isArray(x) && x.every((e) => typeof e === 'number' && Number.isFinite(e)) ? Float64Array.from(x as number[]) : bad(`${what} must be finite numbers`);
  const int = (x: unknown, what: string) => (Number.isInteger(x) && (x as number) >= 0 ? (x as number) : bad(`${what} must be a whole number`));
  const kronecker: KroneckerBlock[] = o.kronecker.map((b: Record<string, unknown>, i: number) => {
    const rows = int(b.rows, `kronecker[${i}].rows`);
    const cols = int(b.cols, `kronecker[${i}].cols`);
    const bias = b.bias === null ? null : int(b.bias, `kronecker[${i}].bias`);
    const c = cols + (bias === null ? 0 : 1);
    return {
      name: String(b.name),
      weight: int(b.weight, `kronecker[${i}].weight`),
      rows,
      cols,
      bias,
      A: unpackSymmetric(b.A, c) ?? bad(`kronecker[${i}].A must be the base64 upper triangle of ${c}×${c} finite doubles`),
      G: unpackSymmetric(b.G, rows) ?? bad(`kronecker[${i}].G must be the base64 upper triangle of ${rows}×${rows} finite doubles`),
    };
  });
  const channels: ChannelBlock[] = o.channels.map((b: Record<string, unknown>, i: number) => ({
    name: String(b.name),
    scale: int(b.scale, `channels[${i}].scale`),
    shift: int(b.shift, `channels[${i}].shift`),
    channels: int(b.channels, `channels[${i}].channels`),
    F: nums(b.F, `channels[${i}].F`),
  }));
  if (!['fisher', 'ggn', 'empirical'].includes(o.kind as string)) bad(`kind must be fisher, ggn or empirical`);
  return { kind: o.kind as FactorKind, samples: int(o.samples, 'samples'), kronecker, channels };
}
