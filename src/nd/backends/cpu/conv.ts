/**
 * Convolution on the CPU, every rank through one lifted 3-D geometry, lowered to GEMM:
 * col[(c,a), i] = x[c, i·s + a·d − p] (zero outside), so that per sample
 *   forward        y   = W · col                  (Cout × CK)(CK × O)
 *   backward data  dx  = col2im(Wᵀ · dy)          the adjoint of im2col scatters back
 *   backward filter dWᵀ += col · dyᵀ              dE/dω_a = Σ_i δ_i · y_(i·s + a·d − p)
 * with CK = Cin·Πkernel and O = Πoutput.
 *
 * The output columns are processed in chunks [o0, o1) of about CHUNK elements of col, so the
 * column block that im2col writes is still in L2 when GEMM reads it (and col2im reads what
 * GEMM wrote). Whole-sample blocks (a 3-D sample's col is 23 MB) made every pass memory-bound.
 *
 * Kernels that keep their own memory bring whole float32 passes instead (ConvPasses: the wasm
 * module runs these same chunks with im2col/col2im beside its GEMM, so col is never copied).
 */
import type { FloatArray } from '../../dtype.js';
import type { ConvGeometry } from '../../geometry.js';
import type { GemmFn } from './gemm.js';
import type { NativeLowering, SyrkFn } from './gemm-native.js';

/** Elements of col per chunk: 128 Ki (512 KB in float32), the order of one core's L2. */
const CHUNK = 1 << 17;

/** Output columns per chunk for this geometry: at least 64, so GEMM's N stays worth blocking. */
export function chunkWidth(g: ConvGeometry): number {
  return Math.min(g.outVolume, Math.max(64, Math.floor(CHUNK / (g.cin * g.kernelVolume))));
}

/*
 * Valid output index range [lo, hi) along one axis for a kernel tap at offset off = a·d − p:
 * 0 ≤ i·s + off ≤ n − 1. Kept in int32 arithmetic (`| 0`): a range bound that V8 sees as a
 * double (Math.ceil / Math.floor results) makes every index in the copy loops a double and
 * their element accesses take the slow path, 5–40 ns per element instead of about 1.
 */
function rangeLo(s: number, off: number): number {
  return off >= 0 ? 0 : ((s - 1 - off) / s) | 0;
}
function rangeHi(n: number, o: number, s: number, off: number, lo: number): number {
  const last = n - 1 - off;
  if (last < 0) return lo;
  const hi = ((last / s) | 0) + 1;
  return hi < lo ? lo : hi > o ? o : hi;
}

/**
 * Visits, for every row (c, tap) of col and every output line (od, oh) that meets the column
 * range [o0, o1), the valid run of that line: `run(row, colStart, xStart, a, b)` covers
 * col[colStart + ow] ↔ x[xStart + ow·sW] for ow in [a, b). Rows whose tap reaches into the
 * padding are reported to `partial` first (im2col zero-fills them). One walk serves im2col and
 * its adjoint col2im, so the two cannot disagree about an index.
 */
function walk(
  g: ConvGeometry, xOff: number, o0: number, o1: number,
  partial: ((rowStart: number) => void) | null,
  run: (colStart: number, xStart: number, a: number, b: number) => void,
): void {
  const [D, H, W] = g.in3;
  const [kD, kH, kW] = g.k3;
  const [sD, sH] = g.s3;
  const [pD, pH, pW] = g.p3;
  const [dD, dH, dW] = g.d3;
  const [oD, oH, oW] = g.o3;
  const width = o1 - o0;
  const q0 = (o0 / oW) | 0;
  const q1 = (((o1 - 1) / oW) | 0) + 1;
  let row = 0;
  for (let c = 0; c < g.cin; c++) {
    const xc = xOff + c * D * H * W;
    for (let kd = 0; kd < kD; kd++) {
      const d0 = rangeLo(sD, kd * dD - pD);
      const d1 = rangeHi(D, oD, sD, kd * dD - pD, d0);
      for (let kh = 0; kh < kH; kh++) {
        const h0 = rangeLo(sH, kh * dH - pH);
        const h1 = rangeHi(H, oH, sH, kh * dH - pH, h0);
        for (let kw = 0; kw < kW; kw++, row++) {
          const w0 = rangeLo(g.s3[2], kw * dW - pW);
          const w1 = rangeHi(W, oW, g.s3[2], kw * dW - pW, w0);
          const r = row * width;
          if (partial && (d1 - d0 < oD || h1 - h0 < oH || w1 - w0 < oW)) partial(r);
          for (let q = q0; q < q1; q++) {
            const od = (q / oH) | 0;
            const oh = q - od * oH;
            if (od < d0 || od >= d1 || oh < h0 || oh >= h1) continue;
            const line = q * oW;
            const a = o0 - line > w0 ? o0 - line : w0;
            const b = o1 - line < w1 ? o1 - line : w1;
            const id = od * sD + kd * dD - pD;
            const ih = oh * sH + kh * dH - pH;
            run(r + line - o0, xc + (id * H + ih) * W - pW + kw * dW, a, b);
          }
        }
      }
    }
  }
}

/** col (CK × (o1 − o0)) ← columns [o0, o1) of the im2col of one sample x (Cin × Πin) at xOff. */
export function im2col(col: FloatArray, x: FloatArray, xOff: number, g: ConvGeometry, o0 = 0, o1 = g.outVolume): void {
  const width = o1 - o0;
  const sW = g.s3[2];
  walk(g, xOff, o0, o1, (r) => col.fill(0, r, r + width), (dst, src, a, b) => {
    if (sW === 1) for (let ow = a; ow < b; ow++) col[dst + ow] = x[src + ow];
    else for (let ow = a; ow < b; ow++) col[dst + ow] = x[src + ow * sW];
  });
}

/** dx (Cin × Πin, at dxOff) += col2im(col) for columns [o0, o1): the exact adjoint of im2col. */
export function col2im(dx: FloatArray, dxOff: number, col: FloatArray, g: ConvGeometry, o0 = 0, o1 = g.outVolume): void {
  const sW = g.s3[2];
  walk(g, dxOff, o0, o1, null, (src, dst, a, b) => {
    if (sW === 1) for (let ow = a; ow < b; ow++) dx[dst + ow] += col[src + ow];
    else for (let ow = a; ow < b; ow++) dx[dst + ow * sW] += col[src + ow];
  });
}

/** The geometry as the native and wasm lowerings take it: cin, in3, k3, s3, p3, d3, o3. */
const packedGeometry = new WeakMap<ConvGeometry, Int32Array>();
export function packGeometry(g: ConvGeometry): Int32Array {
  let p = packedGeometry.get(g);
  if (!p) {
    p = Int32Array.from([g.cin, ...g.in3, ...g.k3, ...g.s3, ...g.p3, ...g.d3, ...g.o3]);
    packedGeometry.set(g, p);
  }
  return p;
}

/** The lowering's two copies, columns [o0, o1) of one sample, as the backend's choice runs them. */
export interface Lowering {
  im2col(col: FloatArray, x: FloatArray, xOff: number, g: ConvGeometry, o0: number, o1: number): void;
  col2im(dx: FloatArray, dxOff: number, col: FloatArray, g: ConvGeometry, o0: number, o1: number): void;
}

export const jsLowering: Lowering = { im2col, col2im };

/** The copies in C that ship with the OpenBLAS addon (a JS copy costs ~1.5 ns per element). */
export function nativeLowering(n: NativeLowering): Lowering {
  return {
    im2col: (col, x, xOff, g, o0, o1) => n.im2col(col, x, xOff, packGeometry(g), o0, o1),
    col2im: (dx, dxOff, col, g, o0, o1) => n.col2im(col, dx, dxOff, packGeometry(g), o0, o1),
  };
}

/**
 * Whole float32 passes run where the column matrix lives, in place of lowering + GEMM here
 * (the wasm module: gemm-wasm.ts). Same chunks, same GEMM calls, so the same results bit for bit.
 */
export interface ConvPasses {
  forward(y: Float32Array, x: Float32Array, w: Float32Array, g: ConvGeometry, batch: number, accumulate: boolean): void;
  backData(dx: Float32Array, dy: Float32Array, w: Float32Array, g: ConvGeometry, batch: number, accumulate: boolean): void;
  backFilter(dw: Float32Array, x: Float32Array, dy: Float32Array, g: ConvGeometry, batch: number, accumulate: boolean): void;
}

/** The GEMM and the lowering a convolution pass runs with (one choice: see gemm-select.ts). */
export interface ConvKernels {
  gemm: GemmFn;
  lowering: Lowering;
  passes?: ConvPasses;
  syrk?: SyrkFn;
}

/** The arrays, when every one is float32 (the only dtype ConvPasses take). */
function float32(...a: FloatArray[]): Float32Array[] | undefined {
  return a.every((v) => v instanceof Float32Array) ? (a as Float32Array[]) : undefined;
}

/** Scratch for the column matrix, grown on demand and reused: no allocation per call. */
export class ColBuffer {
  private buf: FloatArray;
  constructor(private readonly make: (n: number) => FloatArray) {
    this.buf = make(0);
  }
  get(n: number): FloatArray {
    if (this.buf.length < n) this.buf = this.make(n);
    return this.buf;
  }
}

/** The column scratch for one chunk of g's columns, and `extra` elements after it. */
function columns(g: ConvGeometry, scratch: ColBuffer, extra = 0): FloatArray {
  return scratch.get(g.cin * g.kernelVolume * chunkWidth(g) + extra);
}

/** Runs `body` for every sample n in [n0, n1) and output-column chunk [o0, o0 + w). */
function forEachChunk(g: ConvGeometry, n0: number, n1: number, body: (n: number, o0: number, w: number) => void): void {
  const O = g.outVolume;
  const step = chunkWidth(g);
  for (let n = n0; n < n1; n++) for (let o0 = 0; o0 < O; o0 += step) body(n, o0, Math.min(step, O - o0));
}

export function convForward(
  { gemm, lowering, passes }: ConvKernels, scratch: ColBuffer, y: FloatArray, x: FloatArray, w: FloatArray, g: ConvGeometry,
  batch: number, accumulate: boolean,
): void {
  const f = passes && float32(y, x, w);
  if (f) return passes.forward(f[0], f[1], f[2], g, batch, accumulate);
  const [CK, O] = [g.cin * g.kernelVolume, g.outVolume];
  const col = columns(g, scratch);
  forEachChunk(g, 0, batch, (n, o0, width) => {
    lowering.im2col(col, x, n * g.cin * g.inVolume, g, o0, o0 + width);
    gemm(false, false, g.cout, width, CK, 1, w, 0, CK, col, 0, width, accumulate ? 1 : 0, y, n * g.cout * O + o0, O);
  });
}

export function convBackData(
  { gemm, lowering, passes }: ConvKernels, scratch: ColBuffer, dx: FloatArray, dy: FloatArray, w: FloatArray, g: ConvGeometry,
  batch: number, accumulate: boolean,
): void {
  const f = passes && float32(dx, dy, w);
  if (f) return passes.backData(f[0], f[1], f[2], g, batch, accumulate);
  const [CK, O] = [g.cin * g.kernelVolume, g.outVolume];
  if (!accumulate) dx.fill(0);
  const col = columns(g, scratch);
  forEachChunk(g, 0, batch, (n, o0, width) => {
    gemm(true, false, CK, width, g.cout, 1, w, 0, CK, dy, n * g.cout * O + o0, O, 0, col, 0, width);
    lowering.col2im(dx, n * g.cin * g.inVolume, col, g, o0, o0 + width);
  });
}

export function convBackFilter(
  { gemm, lowering, passes }: ConvKernels, scratch: ColBuffer, dw: FloatArray, x: FloatArray, dy: FloatArray, g: ConvGeometry,
  batch: number, accumulate: boolean,
): void {
  const f = passes && float32(dw, x, dy);
  if (f) return passes.backFilter(f[0], f[1], f[2], g, batch, accumulate);
  const [CK, O, C] = [g.cin * g.kernelVolume, g.outVolume, g.cout];
  // dWᵀ (CK × Cout) accumulates after the column block as col · dyᵀ, GEMM's long side (CK) as
  // M: as a whole pass 1.1–1.3× faster with OpenBLAS than dy · colᵀ on W1–W3 and LeNet's conv2
  // (the same on conv1), 2–3× with the wasm kernel, whose copies of C per call shrink to CK·Cout.
  const t = CK * chunkWidth(g);
  const col = columns(g, scratch, CK * C);
  col.fill(0, t, t + CK * C);
  forEachChunk(g, 0, batch, (n, o0, width) => {
    lowering.im2col(col, x, n * g.cin * g.inVolume, g, o0, o0 + width);
    gemm(false, true, CK, C, width, 1, col, 0, width, dy, n * C * O + o0, O, 1, col, t, C);
  });
  for (let o = 0; o < C; o++) {
    for (let k = 0; k < CK; k++) dw[o * CK + k] = (accumulate ? dw[o * CK + k] : 0) + col[t + k * C + o];
  }
}

/**
 * Each sample's own filter gradient (Backend.convBackFilterSamples): samples [first, first + m)
 * into dw [m, Cout, CK], by the same column chunks as convBackFilter.
 */
export function convBackFilterSamples(
  { gemm, lowering }: ConvKernels, scratch: ColBuffer, dw: FloatArray, x: FloatArray, dy: FloatArray, g: ConvGeometry, first: number, m: number,
): void {
  const [CK, O, C] = [g.cin * g.kernelVolume, g.outVolume, g.cout];
  const col = columns(g, scratch);
  // dW_n = dy_n · colᵀ straight into its place: one sample's Cout × CK is small, so the
  // transposed product convBackFilter prefers would cost a transposing copy per sample.
  forEachChunk(g, first, first + m, (n, o0, width) => {
    lowering.im2col(col, x, n * g.cin * g.inVolume, g, o0, o0 + width);
    gemm(false, true, C, CK, width, 1, dy, n * C * O + o0, O, col, 0, width, o0 === 0 ? 0 : 1, dw, (n - first) * C * CK, CK);
  });
}

/**
 * OpenBLAS's SYRK beats its GEMM from here: 114 vs 219 µs at 201 rows × 64 columns, but 56 vs
 * 24 µs at 26 × 576 (single-threaded float32 on this machine; small triangles block poorly).
 */
const SYRK_ROWS = 64;
/** SYRK depth (columns per call) worth batching samples for; see patchGram. */
const GRAM_DEPTH = 1024;

/**
 * out ((CK + h)², overwritten) = Σ_n Σ_i c̄_i c̄_iᵀ over the im2col columns of every sample, with a
 * row of ones appended to each chunk when `homogeneous` (K-FAC's bias coordinate): per chunk one
 * im2col and one col · colᵀ, the upper triangle by SYRK where the kernels have it (half the
 * multiply-adds), mirrored once at the end; else, or below SYRK_ROWS rows, the whole product by
 * GEMM. With few positions per sample (under GRAM_DEPTH) SYRK takes several samples' columns
 * side by side, so that each call runs deep enough to be fast. When a sample's only patch is the
 * sample itself (one output position, a kernel covering the unpadded input: a dense layer's
 * rows), the patches of the whole batch are the rows of x: one GEMM xᵀx, no im2col.
 */
export function patchGram(
  { gemm, lowering, syrk: triangle }: ConvKernels, scratch: ColBuffer, out: FloatArray, x: FloatArray, g: ConvGeometry, batch: number, homogeneous: boolean,
): void {
  const ck = g.cin * g.kernelVolume;
  const rows = ck + (homogeneous ? 1 : 0);
  const syrk = rows >= SYRK_ROWS ? triangle : undefined;
  out.fill(0);
  if (g.outVolume === 1 && g.kernelVolume === g.inVolume && g.padding.every((p) => p === 0)) {
    // By GEMM even where SYRK exists: transposed SYRK as deep as the batch, with the mirror copy,
    // took 1.1–4.6× GEMM's time for 256–1024 columns and batches of 16–128 (0.9× at 704 × 512).
    gemm(true, false, ck, ck, batch, 1, x, 0, ck, x, 0, ck, 0, out, 0, rows);
    if (homogeneous) {
      // Column sums into the (contiguous) last row, then its mirror into the last column.
      const last = ck * rows;
      for (let n = 0; n < batch; n++) for (let i = 0; i < ck; i++) out[last + i] += x[n * ck + i];
      for (let i = 0; i < ck; i++) out[i * rows + ck] = out[last + i];
      out[ck * rows + ck] = batch;
    }
    return;
  }
  if (syrk && g.outVolume < GRAM_DEPTH) {
    // Few positions per sample: SYRK on one sample's columns has too short a depth to run at
    // speed, so lay S samples' columns side by side (each row of each sample's im2col copied
    // into place) and run one SYRK S·T deep.
    const T = g.outVolume;
    const S = Math.min(batch, Math.ceil(GRAM_DEPTH / T));
    const wide = scratch.get(rows * S * T + ck * T);
    const one = wide.subarray(rows * S * T);
    for (let n0 = 0; n0 < batch; n0 += S) {
      const depth = Math.min(S, batch - n0) * T;
      for (let n = n0; n < n0 + depth / T; n++) {
        lowering.im2col(one, x, n * g.cin * g.inVolume, g, 0, T);
        for (let i = 0; i < ck; i++) wide.set(one.subarray(i * T, (i + 1) * T), i * depth + (n - n0) * T);
      }
      if (homogeneous) wide.fill(1, ck * depth, rows * depth);
      syrk(false, rows, depth, 1, wide, 0, depth, 1, out, 0, rows);
    }
  } else {
    const col = scratch.get(rows * chunkWidth(g));
    forEachChunk(g, 0, batch, (n, o0, width) => {
      lowering.im2col(col, x, n * g.cin * g.inVolume, g, o0, o0 + width);
      if (homogeneous) col.fill(1, ck * width, rows * width);
      if (syrk) syrk(false, rows, width, 1, col, 0, width, 1, out, 0, rows);
      else gemm(false, true, rows, rows, width, 1, col, 0, width, col, 0, width, 1, out, 0, rows);
    });
  }
  // Lower triangle from the upper after SYRK (GEMM's whole product already has it).
  if (syrk) for (let i = 0; i < rows; i++) for (let j = i + 1; j < rows; j++) out[j * rows + i] = out[i * rows + j];
}
