/**
 * The GPU backend: every Backend primitive as a gpu.js kernel (kernels.ts), tensors resident
 * on the device between kernels (device.ts), float32 only. The mode (headlessgl in Node,
 * webgl2 in a browser, webasm or cpu anywhere) is chosen by modes.ts and reported by describe().
 *
 * Destination-first on a device whose kernels cannot write in place: each primitive renders a
 * new buffer and the destination tensor takes it over, releasing its old one at once. Views
 * made by `reshape` share one Storage, so a write through any of them is seen by all.
 */
import type { ActivationFn, Backend, Tensor } from '../../backend.js';
import { ACTIVATIONS, activationParts, SOFTPLUS_THRESHOLD } from '../../backend.js';
import type { FloatArray } from '../../dtype.js';
import { checkAvgPool, checkBias, checkConv, checkConvSamples, checkGemm, checkPool, checkSameSize } from '../../checks.js';
import type { ConvGeometry, PoolGeometry } from '../../geometry.js';
import { ShapeError, fmt, sizeOf, type Shape } from '../../shape.js';
import { Device, MAX_ELEMENTS, type Arg, type DeviceStats, type DeviceValue, type KernelBody } from './device.js';
import * as K from './kernels.js';
import * as P from './pool-kernels.js';
import { chooseMode, type GpuMode } from './modes.js';

export { gpuModes, GPU_MODES, GpuModeError, MODE_ENV, type GpuMode, type ModeStatus } from './modes.js';
export type { DeviceStats } from './device.js';

/** dot's first stage sums this many products per thread; the host adds the partial sums in float64. */
const DOT_CHUNK = 256;

class Storage {
  value: DeviceValue | null = null;
  constructor(readonly length: number) {}
}

export class GpuTensor implements Tensor {
  constructor(
    readonly shape: Shape,
    readonly storage: Storage,
    /** The host slice this tensor stands for (wrap), written by writeBack. */
    readonly host: FloatArray | null = null,
  ) {}
}

export interface GpuBackendOptions {
  mode?: GpuMode;
  /** Run another available mode (reported by describe() and a warning) when `mode` cannot run. */
  allowFallback?: boolean;
}

export class GpuBackend implements Backend {
  readonly name = 'gpu';
  readonly dtype = 'float32' as const;
  readonly device: Device;

  constructor(
    readonly mode: GpuMode,
    /** Why the asked-for mode was not taken, or null. */
    readonly fallback: string | null,
  ) {
    this.device = new Device(mode);
    // One tiny kernel now, so describe() names the mode gpu.js actually built from the start.
    this.dispose(this.zeros([1]));
  }

  describe(): string {
    const ran = this.device.actualMode ?? this.mode;
    const asked = ran === this.mode ? '' : ` (asked gpu.js for ${this.mode}, it built ${ran})`;
    return `gpu.js ${ran} (float32)${asked}${this.fallback ? `; fallback because ${this.fallback}` : ''}`;
  }

  /** Live device buffers and compiled kernels, for leak checks over a training run. */
  stats(): DeviceStats {
    return this.device.stats();
  }

  /** Releases the gpu.js instance and its context; the backend is unusable afterwards. */
  destroy(): void {
    this.device.destroy();
  }

  // ---- memory ----

  upload(shape: Shape, data: ArrayLike<number>): Tensor {
    const t = this.alloc(shape);
    if (data.length !== t.storage.length) {
      throw new ShapeError(`upload: shape ${fmt(shape)} needs ${t.storage.length} values, got ${data.length}`);
    }
    const host = data instanceof Float32Array ? data : Float32Array.from(data);
    this.put(t, K.copyK, {}, [host]);
    return t;
  }

  wrap(shape: Shape, host: FloatArray): Tensor {
    const t = this.upload(shape, host) as GpuTensor;
    return new GpuTensor(shape, t.storage, host);
  }

  writeBack(t: Tensor): void {
    const g = gpu(t);
    if (!g.host) throw new TypeError(`writeBack: tensor ${fmt(t.shape)} was not made by wrap()`);
    g.host.set(this.download(g));
  }

  download(t: Tensor): FloatArray {
    const s = gpu(t).storage;
    return s.value ? this.device.read(s.value) : new Float32Array(0);
  }

  zeros(shape: Shape): Tensor {
    const t = this.alloc(shape);
    this.put(t, K.fillK, {}, [0]);
    return t;
  }

  reshape(t: Tensor, shape: Shape): Tensor {
    const g = gpu(t);
    if (sizeOf(shape) !== g.storage.length) throw new ShapeError(`reshape: ${fmt(t.shape)} cannot be seen as ${fmt(shape)}`);
    return new GpuTensor(shape, g.storage, g.host);
  }

  /** Frees the buffer now; every view made by reshape shares it and dies with it. */
  dispose(t: Tensor): void {
    const s = gpu(t).storage;
    if (s.value) this.device.release(s.value);
    s.value = null;
  }

  // ---- elementwise ----

  activation(out: Tensor, x: Tensor, fn: ActivationFn, order: 0 | 1 | 2, times?: Tensor): void {
    checkSameSize('activation', out, x);
    const { kind, slope } = activationParts(fn);
    this.put(out, K.activationK, { KIND: ACTIVATIONS.indexOf(kind), ORDER: order, THRESHOLD: SOFTPLUS_THRESHOLD }, [val(x), slope]);
    // Two kernels where the CPU fuses: on the device the extra pass costs a texture round, not a page walk.
    if (times) this.mul(out, out, times);
  }

  mul(out: Tensor, a: Tensor, b: Tensor): void {
    checkSameSize('mul', out, a);
    checkSameSize('mul', a, b);
    this.put(out, K.mulK, {}, [val(a), val(b)]);
  }

  axpy(y: Tensor, alpha: number, x: Tensor): void {
    checkSameSize('axpy', y, x);
    this.put(y, K.linearK, {}, [val(x), val(y), alpha, 1]);
  }

  scale(out: Tensor, x: Tensor, alpha: number): void {
    checkSameSize('scale', out, x);
    this.put(out, K.linearK, {}, [val(x), val(x), alpha, 0]);
  }

  fill(out: Tensor, value: number): void {
    this.put(out, K.fillK, {}, [value]);
  }

  // ---- linear algebra ----

  gemm(C: Tensor, A: Tensor, B: Tensor, transA: boolean, transB: boolean, alpha: number, beta: number): void {
    const [M, N, KK] = checkGemm(C, A, B, transA, transB);
    const c = { M, N, KK, TA: transA ? 1 : 0, TB: transB ? 1 : 0 };
    this.put(C, K.gemmK, c, [val(A), val(B), val(C), alpha, beta]);
  }

  dot(a: Tensor, b: Tensor): number {
    checkSameSize('dot', a, b);
    const n = gpu(a).storage.length;
    if (n === 0) return 0;
    const part = this.device.run(K.dotPartialK, Math.ceil(n / DOT_CHUNK), { CHUNK: DOT_CHUNK, LEN: n }, [val(a), val(b)]);
    const p = this.device.read(part);
    this.device.release(part);
    let s = 0;
    for (let i = 0; i < p.length; i++) s += p[i];
    return s;
  }

  // ---- convolution ----

  conv(y: Tensor, x: Tensor, w: Tensor, g: ConvGeometry, accumulate: boolean): void {
    checkConv('conv', x, y, w, g);
    this.put(y, K.convK, convConstants(g, accumulate), [val(x), val(w), val(y)]);
  }

  convBackData(dx: Tensor, dy: Tensor, w: Tensor, g: ConvGeometry, accumulate: boolean): void {
    checkConv('convBackData', dx, dy, w, g);
    this.put(dx, K.convBackDataK, convConstants(g, accumulate), [val(dy), val(w), val(dx)]);
  }

  convBackFilter(dw: Tensor, x: Tensor, dy: Tensor, g: ConvGeometry, accumulate: boolean): void {
    const n = checkConv('convBackFilter', x, dy, dw, g);
    const cols = sizeOf(dw.shape);
    const part = this.device.run(K.convBackFilterPartialK, n * cols, convConstants(g, false), [val(x), val(dy), 0]);
    this.put(dw, K.sumRowsK, { ROWS: n, COLS: cols, ACC: accumulate ? 1 : 0 }, [part, val(dw)]);
    this.device.release(part);
  }

  /** The first stage of convBackFilter alone: its per-sample sums are each sample's own gradient. */
  convBackFilterSamples(dw: Tensor, x: Tensor, dy: Tensor, g: ConvGeometry, first: number): void {
    checkConvSamples('convBackFilterSamples', x, dy, dw, g, first);
    this.put(dw, K.convBackFilterPartialK, convConstants(g, false), [val(x), val(dy), first]);
  }

  biasAdd(y: Tensor, b: Tensor): void {
    const inner = checkBias('biasAdd', y, b);
    this.put(y, K.biasAddK, { INNER: inner, C: b.shape[0] }, [val(y), val(b)]);
  }

  biasGrad(db: Tensor, dy: Tensor): void {
    const inner = checkBias('biasGrad', dy, db);
    const [n, c] = [dy.shape[0], db.shape[0]];
    const part = this.device.run(K.sumPlaneK, n * c, { INNER: inner }, [val(dy)]);
    this.put(db, K.sumRowsK, { ROWS: n, COLS: c, ACC: 1 }, [part, val(db)]);
    this.device.release(part);
  }

  channelAffine(out: Tensor, x: Tensor, a: Tensor, b: Tensor): void {
    checkSameSize('channelAffine', out, x);
    const inner = checkBias('channelAffine', x, a);
    checkBias('channelAffine', x, b);
    this.put(out, K.channelAffineK, { INNER: inner, C: a.shape[0] }, [val(x), val(a), val(b)]);
  }

  // ---- max-pooling ----

  maxPool(y: Tensor, argmax: Tensor, x: Tensor, g: PoolGeometry): void {
    checkPool('maxPool', x, y, argmax, g);
    this.put(argmax, P.argmaxK, poolConstants(g), [val(x)]);
    this.gather(y, x, argmax, g);
  }

  gather(y: Tensor, x: Tensor, argmax: Tensor, g: PoolGeometry): void {
    checkPool('gather', x, y, argmax, g);
    this.put(y, P.gatherK, { INVOL: g.inVolume, OUTVOL: g.outVolume }, [val(x), val(argmax)]);
  }

  scatterAdd(dx: Tensor, dy: Tensor, argmax: Tensor, g: PoolGeometry): void {
    checkPool('scatterAdd', dx, dy, argmax, g);
    // Each thread owns one element of dx and visits only the windows that can contain it.
    const c = { ...poolConstants(g), R0: Math.ceil(g.w3[0] / g.s3[0]), R1: Math.ceil(g.w3[1] / g.s3[1]), R2: Math.ceil(g.w3[2] / g.s3[2]) };
    this.put(dx, P.scatterAddK, c, [val(dx), val(dy), val(argmax)]);
  }

  // ---- average pooling ----

  avgPool(y: Tensor, x: Tensor, g: PoolGeometry, countPad: boolean): void {
    checkAvgPool('avgPool', x, y, g);
    this.put(y, P.avgPoolK, { ...poolConstants(g), COUNTPAD: countPad ? 1 : 0 }, [val(x)]);
  }

  avgPoolBack(dx: Tensor, dy: Tensor, g: PoolGeometry, countPad: boolean): void {
    checkAvgPool('avgPoolBack', dx, dy, g);
    const R = g.w3.map((w, a) => Math.ceil(w / g.s3[a]));
    const c = { ...poolConstants(g), COUNTPAD: countPad ? 1 : 0, R0: R[0], R1: R[1], R2: R[2] };
    this.put(dx, P.avgPoolBackK, c, [val(dy)]);
  }

  // ---- helpers ----

  private alloc(shape: Shape): GpuTensor {
    const n = sizeOf(shape);
    if (n > MAX_ELEMENTS) {
      throw new ShapeError(`gpu backend: tensor ${fmt(shape)} has ${n} elements; float32 indexing is exact only up to ${MAX_ELEMENTS}`);
    }
    return new GpuTensor(shape, new Storage(n));
  }

  /** Runs a kernel over `out`'s elements and gives `out` the result, freeing its old buffer. */
  private put(out: Tensor, fn: KernelBody, constants: Record<string, number>, args: Arg[]): void {
    const s = gpu(out).storage;
    if (s.length === 0) return;
    const fresh = this.device.run(fn, s.length, constants, args);
    if (s.value) this.device.release(s.value);
    s.value = fresh;
  }
}

/**
 * The GPU backend in `mode` (default: NDCNN_GPU_MODE, else the best available). Demanding a
 * mode that cannot run throws its reason, unless allowFallback: then the best available runs,
 * with a warning and the reason in describe().
 */
export function gpuBackend(o: GpuBackendOptions = {}): GpuBackend {
  const choice = chooseMode(o.mode, o.allowFallback ?? false);
  if (choice.fallback) console.warn(`ndcnn gpu backend: ${choice.fallback}; running ${choice.mode} instead`);
  return new GpuBackend(choice.mode, choice.fallback);
}

function gpu(t: Tensor): GpuTensor {
  if (!(t instanceof GpuTensor)) throw new TypeError('gpu backend: tensor belongs to another backend');
  return t;
}

function val(t: Tensor): DeviceValue {
  const v = gpu(t).storage.value;
  if (!v) throw new Error(`gpu backend: tensor ${fmt(t.shape)} was disposed (or is empty) and cannot be read`);
  return v;
}


/** The lifted geometry as shader constants: input I, kernel K, stride S, padding P, dilation D, output O. */
function convConstants(g: ConvGeometry, accumulate: boolean): Record<string, number> {
  const c: Record<string, number> = { CIN: g.cin, COUT: g.cout, ACC: accumulate ? 1 : 0 };
  const axes = { I: g.in3, K: g.k3, S: g.s3, P: g.p3, D: g.d3, O: g.o3 };
  for (const [name, v] of Object.entries(axes)) for (let a = 0; a < 3; a++) c[`${name}${a}`] = v[a];
  return c;
}

function poolConstants(g: PoolGeometry): Record<string, number> {
  const c: Record<string, number> = {};
  const axes = { I: g.in3, W: g.w3, S: g.s3, P: g.p3, O: g.o3 };
  for (const [name, v] of Object.entries(axes)) for (let a = 0; a < 3; a++) c[`${name}${a}`] = v[a];
  return c;
}

