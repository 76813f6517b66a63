// The declarations name WebGPU's types (GPUDevice, GPUBuffer), so the emitted .d.ts must pull them in
// for a consumer whose tsconfig does not list them (the package depends on @webgpu/types for this).
/// <reference types="@webgpu/types" preserve="true" />
/**
 * The WebGPU backend: every Backend primitive as a WGSL compute kernel (kernels.ts), tensors in
 * device storage buffers, float32. In a browser it runs on `navigator.gpu`; in Node on Dawn
 * (the npm package `webgpu`, see node.ts).
 *
 * WebGPU records work synchronously and reads back only asynchronously. So every primitive of
 * the contract is recorded into a command encoder at once (compute passes, in order), while
 * `download`, `dot` and `writeBack`, the contract's synchronous reads, are refused: values come
 * back through `read`, which submits what was recorded and resolves when the copy has landed.
 * The network's passes name their read points (src/layers/reads.ts) and run them through `read`
 * on this backend (`await net.gradientAsync(…)`); see the README's design section.
 */
import type { ActivationFn, AsyncReads, Backend, Tensor } from '../../backend.js';
import { ACTIVATIONS, activationParts, SOFTPLUS_THRESHOLD } from '../../backend.js';
import type { FloatArray } from '../../dtype.js';
import { checkAvgPool, checkBias, checkConv, checkGemm, checkPool, checkSameSize } from '../../checks.js';
import type { ConvGeometry, PoolGeometry } from '../../geometry.js';
import { ShapeError, fmt, sizeOf, type Shape } from '../../shape.js';
import * as K from './kernels.js';

// The WebGPU flag values (the spec's), so the backend needs no globals that Node lacks.
const Usage = { MAP_READ: 0x1, COPY_SRC: 0x4, COPY_DST: 0x8, UNIFORM: 0x40, STORAGE: 0x80 } as const;
const MAP_READ = 0x1;

/** Elements per im2col chunk: 16 M floats (64 MiB), well inside WebGPU's default 128 MiB binding limit. */
const COL_ELEMENTS = 1 << 24;
/** Below this many rows or columns a GEMM runs one thread per element of C instead of 64×64 tiles. */
const THIN = 32;
/** Dispatches recorded before the encoder is submitted, so a long pass starts running early. */
const SUBMIT_EVERY = 64;

class Storage {
  constructor(
    public buffer: GPUBuffer | null,
    readonly length: number,
  ) {}
}

export class WebGpuTensor implements Tensor {
  constructor(
    readonly shape: Shape,
    readonly storage: Storage,
    /** The host slice this tensor stands for (wrap), written when a pass reads the tensor back. */
    readonly host: FloatArray | null = null,
  ) {}
}

/** Live device buffers and compiled pipelines, for leak checks over a training run. */
export interface WebGpuStats {
  buffers: number;
  bytes: number;
  pipelines: number;
}

export class WebGpuBackend implements Backend, AsyncReads {
  readonly name = 'webgpu';
  readonly dtype = 'float32' as const;
  readonly asyncReads = true;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private encoder: GPUCommandEncoder | null = null;
  private recorded = 0;
  /** Uniform buffers of recorded dispatches, destroyed once their encoder is submitted. */
  private uniforms: GPUBuffer[] = [];
  private live = { buffers: 0, bytes: 0 };
  /** Bound where a kernel's input slot is unused (an input read from the destination, or absent). */
  private readonly placeholder: GPUBuffer;
  private lost: string | null = null;

  constructor(
    readonly device: GPUDevice,
    /** What the adapter says it is (vendor, architecture, description), for describe(). */
    readonly adapterName: string,
    readonly software: boolean,
    /** The GPU object the device came from: Dawn in Node tears its instance down when this is collected. */
    private readonly api: GPU,
  ) {
    this.placeholder = this.buffer(4);
    void device.lost.then((info) => {
      this.lost = `${info.reason}: ${info.message}`;
    });
  }

  describe(): string {
    return `webgpu on ${this.adapterName}${this.software ? ' (a software adapter: correctness, not speed)' : ''} (float32)`;
  }

  stats(): WebGpuStats {
    return { ...this.live, pipelines: this.pipelines.size };
  }

  /** Releases the device; the backend is unusable afterwards. */
  destroy(): void {
    this.flush();
    this.device.destroy();
  }

  // ---- memory ----

  upload(shape: Shape, data: ArrayLike<number>): Tensor {
    const t = this.alloc(shape);
    if (data.length !== t.storage.length) {
      throw new ShapeError(`upload: shape ${fmt(shape)} needs ${t.storage.length} values, got ${data.length}`);
    }
    // A fresh buffer: no recorded work reads it yet, so the write needs no flush before it.
    // Shared memory (MiniBatches' batches, threaded parameters) is copied first: Dawn in Node
    // crashes on a view of a SharedArrayBuffer.
    const plain = data instanceof Float32Array && !(typeof SharedArrayBuffer === 'function' && data.buffer instanceof SharedArrayBuffer);
    if (data.length > 0) this.device.queue.writeBuffer(t.storage.buffer!, 0, plain ? (data as Float32Array<ArrayBuffer>) : Float32Array.from(data));
    return t;
  }

  wrap(shape: Shape, host: FloatArray): Tensor {
    const t = this.upload(shape, host) as WebGpuTensor;
    return new WebGpuTensor(shape, t.storage, host);
  }

  writeBack(t: Tensor): void {
    throw new Error(`webgpu backend: writeBack(${fmt(t.shape)}) would need a synchronous read; WebGPU reads back only asynchronously (the network's async passes read through read())`);
  }

  download(t: Tensor): FloatArray {
    throw new Error(`webgpu backend: download(${fmt(t.shape)}) would need a synchronous read; WebGPU reads back only asynchronously: use await backend.read(t), or the network's async methods (await net.lossAsync(batch), …)`);
  }

  zeros(shape: Shape): Tensor {
    const t = this.alloc(shape);
    // createBuffer zero-initialises (WebGPU guarantees it), so nothing to record.
    return t;
  }

  reshape(t: Tensor, shape: Shape): Tensor {
    const g = gpu(t);
    if (sizeOf(shape) !== g.storage.length) throw new ShapeError(`reshape: ${fmt(t.shape)} cannot be seen as ${fmt(shape)}`);
    return new WebGpuTensor(shape, g.storage, g.host);
  }

  /** Frees the buffer (after the work already recorded on it); every reshape view dies with it. */
  dispose(t: Tensor): void {
    const s = gpu(t).storage;
    if (!s.buffer) return;
    // Destroying a buffer that recorded but unsubmitted work uses would invalidate that work.
    this.flush();
    this.free(s.buffer);
    s.buffer = null;
  }

  /**
   * A host copy of the tensor's elements, once everything recorded before has run: submits the
   * recorded work and a copy into a mappable buffer, then maps it.
   */
  async read(t: Tensor): Promise<Float32Array> {
    return (await this.readAll([t]))[0];
  }

  /** read() of several tensors with one submission and one wait. */
  async readAll(ts: readonly Tensor[]): Promise<Float32Array[]> {
    const staging = ts.map((t) => {
      const s = gpu(t).storage;
      if (s.length === 0) return null;
      const b = this.device.createBuffer({ size: s.length * 4, usage: Usage.MAP_READ | Usage.COPY_DST });
      this.enc().copyBufferToBuffer(buf(t), 0, b, 0, s.length * 4);
      return b;
    });
    this.flush();
    // Dawn in Node holds no handle on the event loop while a map is pending: a timer keeps the
    // process alive until the copies land (a browser needs none, and it costs nothing there).
    const alive = setInterval(() => {}, 1 << 30);
    return Promise.all(
      staging.map(async (b) => {
        if (!b) return new Float32Array(0);
        try {
          await b.mapAsync(MAP_READ);
          return new Float32Array(b.getMappedRange().slice(0));
        } catch (e) {
          throw new Error(`webgpu backend: reading back failed${this.lost ? ` (device lost: ${this.lost})` : ''}: ${(e as Error).message}`);
        } finally {
          b.destroy();
        }
      }),
    ).finally(() => clearInterval(alive));
  }

  // ---- elementwise ----

  activation(out: Tensor, x: Tensor, fn: ActivationFn, order: 0 | 1 | 2, times?: Tensor): void {
    checkSameSize('activation', out, x);
    if (times) checkSameSize('activation', out, times);
    const { kind, slope } = activationParts(fn);
    const n = sizeOf(out.shape);
    this.run(K.activation, n, out, [this.input(x, out), times ? this.input(times, out) : null], {
      n, kind: ACTIVATIONS.indexOf(kind), order, slope, threshold: SOFTPLUS_THRESHOLD,
      aliasX: same(x, out), hasTimes: times ? 1 : 0, aliasT: times ? same(times, out) : 0,
    });
  }

  mul(out: Tensor, a: Tensor, b: Tensor): void {
    checkSameSize('mul', out, a);
    checkSameSize('mul', a, b);
    const n = sizeOf(out.shape);
    this.run(K.mul, n, out, [this.input(a, out), this.input(b, out)], { n, aliasA: same(a, out), aliasB: same(b, out) });
  }

  axpy(y: Tensor, alpha: number, x: Tensor): void {
    checkSameSize('axpy', y, x);
    const n = sizeOf(y.shape);
    this.run(K.linear, n, y, [this.input(x, y)], { n, alpha, beta: 1, aliasX: same(x, y) });
  }

  scale(out: Tensor, x: Tensor, alpha: number): void {
    checkSameSize('scale', out, x);
    const n = sizeOf(out.shape);
    this.run(K.linear, n, out, [this.input(x, out)], { n, alpha, beta: 0, aliasX: same(x, out) });
  }

  fill(out: Tensor, value: number): void {
    const n = sizeOf(out.shape);
    this.run(K.fill, n, out, [], { n, value });
  }

  // ---- linear algebra ----

  gemm(C: Tensor, A: Tensor, B: Tensor, transA: boolean, transB: boolean, alpha: number, beta: number): void {
    const [M, N, KK] = checkGemm(C, A, B, transA, transB);
    this.gemmRun(C, A, B, { M, N, K: KK, tA: transA ? 1 : 0, tB: transB ? 1 : 0, alpha, beta, ldA: transA ? M : KK, ldB: transB ? KK : N }, 1);
  }

  dot(a: Tensor, b: Tensor): number {
    checkSameSize('dot', a, b);
    throw new Error('webgpu backend: dot() would need a synchronous read; use await backend.dotAsync(a, b)');
  }

  /** Σ a ⊙ b: partial sums of 4,096 products on the device, added on the host in float64. */
  async dotAsync(a: Tensor, b: Tensor): Promise<number> {
    checkSameSize('dot', a, b);
    const n = sizeOf(a.shape);
    if (n === 0) return 0;
    const inner = 4096;
    const rows = Math.ceil(n / inner);
    const part = this.alloc([rows]);
    this.runRows(part, rows, [a, b], { rows, inner, planes: 1, gap: 0, acc: 0, hasY: 1, len: n });
    const p = await this.read(part);
    this.dispose(part);
    let s = 0;
    for (let i = 0; i < p.length; i++) s += p[i];
    return s;
  }

  // ---- convolution ----

  /** y[n] (+)= W · col[n], col = im2col(x[n]) chunk by chunk of samples. */
  conv(y: Tensor, x: Tensor, w: Tensor, g: ConvGeometry, accumulate: boolean): void {
    const n = checkConv('conv', x, y, w, g);
    const [ck, ov] = [g.cin * g.kernelVolume, g.outVolume];
    this.byChunks(x, g, n, (col, n0, count) => {
      this.gemmRun(y, w, col, {
        M: g.cout, N: ov, K: ck, tA: 0, tB: 0, alpha: 1, beta: accumulate ? 1 : 0, ldA: ck, ldB: ov,
        sA: 0, sB: ck * ov, sC: g.cout * ov, oC: n0 * g.cout * ov,
      }, count);
    });
  }

  convBackData(dx: Tensor, dy: Tensor, w: Tensor, g: ConvGeometry, accumulate: boolean): void {
    const n = checkConv('convBackData', dx, dy, w, g);
    const total = n * g.cin * g.inVolume;
    this.run(K.convBackData, total, dx, [this.input(dy, dx), this.input(w, dx)], { ...convFields(g, accumulate), total });
  }

  /** dw (+)= Σ_{n,o} dy[n, ·, o] · col[n, ·, o]ᵀ: one GEMM over each chunk, its inner index running over (n, o). */
  convBackFilter(dw: Tensor, x: Tensor, dy: Tensor, g: ConvGeometry, accumulate: boolean): void {
    const n = checkConv('convBackFilter', x, dy, dw, g);
    const [ck, ov] = [g.cin * g.kernelVolume, g.outVolume];
    this.byChunks(x, g, n, (col, n0, count) => {
      this.gemmRun(dw, dy, col, {
        M: g.cout, N: ck, K: count * ov, tA: 0, tB: 1, alpha: 1, beta: accumulate || n0 > 0 ? 1 : 0, ldA: ov, ldB: ov,
        oA: n0 * g.cout * ov, kSeg: ov, segA: g.cout * ov, segB: ck * ov,
      }, 1);
    });
  }

  biasAdd(y: Tensor, b: Tensor): void {
    const inner = checkBias('biasAdd', y, b);
    const n = sizeOf(y.shape);
    this.run(K.biasAdd, n, y, [this.input(b, y)], { n, inner, C: b.shape[0] });
  }

  biasGrad(db: Tensor, dy: Tensor): void {
    const inner = checkBias('biasGrad', dy, db);
    const c = db.shape[0];
    this.runRows(db, c, [dy, null], { rows: c, inner, planes: dy.shape[0], gap: c * inner, acc: 1, hasY: 0, len: sizeOf(dy.shape) });
  }

  channelAffine(out: Tensor, x: Tensor, a: Tensor, b: Tensor): void {
    checkSameSize('channelAffine', out, x);
    const inner = checkBias('channelAffine', x, a);
    checkBias('channelAffine', x, b);
    const n = sizeOf(out.shape);
    this.run(K.channelAffine, n, out, [this.input(x, out), this.input(a, out), this.input(b, out)], { n, inner, C: a.shape[0], aliasX: same(x, out) });
  }

  // ---- pooling ----

  maxPool(y: Tensor, argmax: Tensor, x: Tensor, g: PoolGeometry): void {
    checkPool('maxPool', x, y, argmax, g);
    const total = sizeOf(argmax.shape);
    this.run(K.maxPool, total, argmax, [this.input(x, argmax)], poolFields(g, total, false));
    this.gather(y, x, argmax, g);
  }

  gather(y: Tensor, x: Tensor, argmax: Tensor, g: PoolGeometry): void {
    checkPool('gather', x, y, argmax, g);
    const total = sizeOf(y.shape);
    this.run(K.gather, total, y, [this.input(x, y), this.input(argmax, y)], { total, inVol: g.inVolume, outVol: g.outVolume });
  }

  scatterAdd(dx: Tensor, dy: Tensor, argmax: Tensor, g: PoolGeometry): void {
    checkPool('scatterAdd', dx, dy, argmax, g);
    const total = sizeOf(dx.shape);
    this.run(K.scatterAdd, total, dx, [this.input(dy, dx), this.input(argmax, dx)], poolFields(g, total, false));
  }

  avgPool(y: Tensor, x: Tensor, g: PoolGeometry, countPad: boolean): void {
    checkAvgPool('avgPool', x, y, g);
    const total = sizeOf(y.shape);
    this.run(K.avgPool, total, y, [this.input(x, y)], poolFields(g, total, countPad));
  }

  avgPoolBack(dx: Tensor, dy: Tensor, g: PoolGeometry, countPad: boolean): void {
    checkAvgPool('avgPoolBack', dx, dy, g);
    const total = sizeOf(dx.shape);
    this.run(K.avgPoolBack, total, dx, [this.input(dy, dx)], poolFields(g, total, countPad));
  }

  // ---- recording ----

  /** im2col of x in chunks of samples that fit COL_ELEMENTS; `body` consumes each chunk's col. */
  private byChunks(x: Tensor, g: ConvGeometry, n: number, body: (col: Tensor, n0: number, count: number) => void): void {
    const per = g.cin * g.kernelVolume * g.outVolume;
    const step = Math.max(1, Math.min(n, Math.floor(COL_ELEMENTS / per)));
    const col = this.alloc([step * per]);
    for (let n0 = 0; n0 < n; n0 += step) {
      const count = Math.min(step, n - n0);
      const total = count * per;
      this.run(K.im2col, total, col, [this.input(x, col)], { ...convFields(g, false), n: n0, total });
      body(col, n0, count);
    }
    this.dispose(col);
  }

  private gemmRun(C: Tensor, A: Tensor, B: Tensor, f: Record<string, number>, batch: number): void {
    const p: Record<string, number> = { sA: 0, sB: 0, sC: 0, oA: 0, oB: 0, oC: 0, kSeg: f.K, segA: 0, segB: 0, ...f };
    if (p.M === 0 || p.N === 0) return;
    if (p.kSeg === 0) p.kSeg = 1;
    const inputs = [this.input(A, C), this.input(B, C)];
    if (p.M < THIN || p.N < THIN) this.run(K.gemmThin, batch * p.M * p.N, C, inputs, { ...p, total: batch * p.M * p.N });
    else this.dispatch(K.gemm, [Math.ceil(p.N / 64), Math.ceil(p.M / 64), batch], C, inputs, p);
  }

  /** A rowSum dispatch: one workgroup per row. */
  private runRows(out: Tensor, rows: number, [x, y]: [Tensor, Tensor | null], f: Record<string, number>): void {
    if (rows === 0) return;
    this.dispatch(K.rowSum, grid(rows), out, [this.input(x, out), y ? this.input(y, out) : null], f);
  }

  /** One thread per element of `total`. */
  private run(k: K.KernelSource, total: number, out: Tensor, inputs: (GPUBuffer | null)[], f: Record<string, number>): void {
    if (total === 0) return;
    this.dispatch(k, grid(Math.ceil(total / K.WORKGROUP)), out, inputs, f);
  }

  private dispatch(k: K.KernelSource, groups: [number, number, number], out: Tensor, inputs: (GPUBuffer | null)[], f: Record<string, number>): void {
    if (this.lost) throw new Error(`webgpu backend: the device was lost (${this.lost})`);
    const pipeline = this.pipeline(k);
    const u = this.device.createBuffer({ size: Math.max(16, Math.ceil((k.fields.length * 4) / 16) * 16), usage: Usage.UNIFORM, mappedAtCreation: true });
    const words = u.getMappedRange();
    const [asU, asI, asF] = [new Uint32Array(words), new Int32Array(words), new Float32Array(words)];
    k.fields.forEach((field, j) => {
      const [name, type] = field.split(':');
      const v = f[name];
      if (v === undefined) throw new Error(`webgpu backend: kernel parameter '${name}' missing`);
      if (type === 'f32') asF[j] = v;
      else if (type === 'i32') asI[j] = v;
      else asU[j] = v;
    });
    u.unmap();
    this.uniforms.push(u);
    const entries: GPUBindGroupEntry[] = [
      { binding: 0, resource: { buffer: u } },
      { binding: 1, resource: { buffer: buf(out) } },
      ...inputs.map((b, j) => ({ binding: j + 2, resource: { buffer: b ?? this.placeholder } })),
    ];
    const group = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    const pass = this.enc().beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(...groups);
    pass.end();
    if (++this.recorded >= SUBMIT_EVERY) this.flush();
  }

  /** An input's buffer, or null where it is the destination itself (the kernel reads it there). */
  private input(t: Tensor, out: Tensor): GPUBuffer | null {
    return same(t, out) ? null : buf(t);
  }

  /** The kernel's pipeline, compiled on first use (keyed by its body: one per kernel). */
  private pipeline(k: K.KernelSource): GPUComputePipeline {
    let p = this.pipelines.get(k.body);
    if (!p) {
      const module = this.device.createShaderModule({ code: K.wgsl(k) });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } });
      this.pipelines.set(k.body, p);
    }
    return p;
  }

  private enc(): GPUCommandEncoder {
    this.encoder ??= this.device.createCommandEncoder();
    return this.encoder;
  }

  /** Submits everything recorded so far. */
  private flush(): void {
    if (!this.encoder) return;
    this.device.queue.submit([this.encoder.finish()]);
    this.encoder = null;
    this.recorded = 0;
    for (const u of this.uniforms) u.destroy();
    this.uniforms = [];
  }

  private alloc(shape: Shape): WebGpuTensor {
    const n = sizeOf(shape);
    const limit = this.device.limits.maxStorageBufferBindingSize / 4;
    if (n > limit) throw new ShapeError(`webgpu backend: tensor ${fmt(shape)} has ${n} elements; this device binds at most ${limit} float32 values`);
    return new WebGpuTensor(shape, new Storage(this.buffer(Math.max(4, n * 4)), n));
  }

  private buffer(bytes: number): GPUBuffer {
    this.live.buffers++;
    this.live.bytes += bytes;
    return this.device.createBuffer({ size: bytes, usage: Usage.STORAGE | Usage.COPY_SRC | Usage.COPY_DST });
  }

  private free(b: GPUBuffer): void {
    this.live.buffers--;
    this.live.bytes -= b.size;
    b.destroy();
  }
}

/** A grid of `groups` workgroups: x at most 65,535 (WebGPU's per-axis limit), the rest on y. */
function grid(groups: number): [number, number, number] {
  const x = Math.min(groups, 65535);
  return [x, Math.ceil(groups / x), 1];
}

function gpu(t: Tensor): WebGpuTensor {
  if (!(t instanceof WebGpuTensor)) throw new TypeError('webgpu backend: tensor belongs to another backend');
  return t;
}

function buf(t: Tensor): GPUBuffer {
  const b = gpu(t).storage.buffer;
  if (!b) throw new Error(`webgpu backend: tensor ${fmt(t.shape)} was disposed and cannot be used`);
  return b;
}

function same(a: Tensor, b: Tensor): 0 | 1 {
  return gpu(a).storage === gpu(b).storage ? 1 : 0;
}

function convFields(g: ConvGeometry, accumulate: boolean): Record<string, number> {
  const f: Record<string, number> = { n: 0, cin: g.cin, cout: g.cout, acc: accumulate ? 1 : 0 };
  const axes = { I: g.in3, K: g.k3, S: g.s3, P: g.p3, D: g.d3, O: g.o3 };
  for (const [name, v] of Object.entries(axes)) for (let a = 0; a < 3; a++) f[`${name}${a}`] = v[a];
  return f;
}

function poolFields(g: PoolGeometry, total: number, countPad: boolean): Record<string, number> {
  const f: Record<string, number> = { total, countPad: countPad ? 1 : 0 };
  const R = g.w3.map((w, a) => Math.ceil(w / g.s3[a]));
  const axes = { I: g.in3, W: g.w3, S: g.s3, P: g.p3, O: g.o3, R };
  for (const [name, v] of Object.entries(axes)) for (let a = 0; a < 3; a++) f[`${name}${a}`] = v[a];
  return f;
}

/**
 * A backend on `gpu` (navigator.gpu in a browser, Dawn's in Node): asks for a high-performance
 * adapter and its device with the adapter's own storage limits. Throws, naming what is missing,
 * when there is no adapter.
 */
export async function webgpuOn(gpuApi: GPU, where: string, found?: GPUAdapter): Promise<WebGpuBackend> {
  const adapter = found ?? (await gpuApi.requestAdapter({ powerPreference: 'high-performance' }));
  if (!adapter) throw new Error(`webgpu backend: ${where} has no WebGPU adapter (requestAdapter() returned null)`);
  const limits = adapter.limits;
  const device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxStorageBuffersPerShaderStage: Math.min(8, limits.maxStorageBuffersPerShaderStage),
    },
  });
  const info = adapter.info;
  const name = [info?.vendor, info?.architecture, info?.description].filter((s) => s).join(' ') || 'an unnamed adapter';
  const software = /swiftshader|llvmpipe|lavapipe|software/i.test(name) || (info as { isFallbackAdapter?: boolean })?.isFallbackAdapter === true;
  return new WebGpuBackend(device, `${name}, through ${where}`, software, gpuApi);
}
