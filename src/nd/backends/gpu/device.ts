/**
 * One gpu.js instance, its compiled kernels, and the device buffers tensors live in.
 *
 * Residency: every kernel runs with `pipeline: true, immutable: true`, so on the GL modes its
 * result is a fresh texture that stays on the device and is the next kernel's input; nothing is
 * read back until `read`. gpu.js's `immutable` hands each call its own texture (a mutable kernel
 * would overwrite the previous result, which a tensor still holds). On webasm and cpu there is
 * no device memory: gpu.js returns a typed array, and "the device" is the host heap.
 *
 * Release: a tensor's buffer is deleted as soon as it is replaced or disposed (texture.delete()),
 * and `stats()` counts what is alive so a test can watch a training run for growth.
 */
import { CPUKernel, GPU, HeadlessGLKernel, Texture, WebAssemblyKernel, WebGL2Kernel, WebGLKernel } from 'gpu.js';
import type { IKernelRunShortcut, KernelFunction } from 'gpu.js';
import { idiv } from './kernels.js';
import type { GpuMode } from './modes.js';

/** A device buffer: a GL texture on the GL modes, a host array on webasm and cpu. */
export type DeviceValue = Texture | Float32Array;

/** A kernel argument: a buffer, a host array being uploaded, or a scalar uniform. */
export type Arg = DeviceValue | Float32Array | Float64Array | number;

/** A kernel body from kernels.ts; gpu.js reads its source, so its parameter types are erased. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type KernelBody = (this: any, ...args: any[]) => number;

/** Float32 represents integers exactly up to 2^24; index arithmetic in the shaders relies on it. */
export const MAX_ELEMENTS = 1 << 24;

export interface DeviceStats {
  /** Device buffers held by tensors (and by nothing else). */
  buffers: number;
  /** Compiled kernels; each keeps one output texture of its own on the GL modes. */
  kernels: number;
  /** GL textures alive in the context (GL modes only; null elsewhere). */
  glTextures: number | null;
}

export class Device {
  private readonly gpu: GPU;
  private readonly cache = new Map<string, IKernelRunShortcut>();
  private live = 0;
  private glTextures: number | null = null;
  /** The gpu.js kernel class that actually ran, which may differ from the one asked for. */
  private ran: GpuMode | null = null;

  constructor(readonly mode: GpuMode) {
    this.gpu = new GPU({ mode });
  }

  /** Mode of the kernels gpu.js actually built (null before the first). */
  get actualMode(): GpuMode | null {
    return this.ran;
  }

  /**
   * Runs kernel `fn` into a new buffer of `length` elements. One compiled instance per
   * (kernel, constants, output and argument sizes): geometry is baked in as constants, so a
   * network compiles each kernel once per layer and reuses it every step.
   */
  run(fn: KernelBody, length: number, constants: Record<string, number>, args: Arg[]): DeviceValue {
    const key = `${fn.name}|${length}|${JSON.stringify(constants)}|${args.map(sizeKey).join(',')}`;
    let k = this.cache.get(key);
    if (!k) {
      k = this.gpu.createKernel(fn as KernelFunction, {
        output: [length],
        constants,
        pipeline: true,
        immutable: true,
        precision: 'single',
        tactic: 'precision',
        functions: [idiv],
      });
      this.cache.set(key, k);
    }
    const out = k(...(args as never[])) as unknown as DeviceValue;
    if (this.ran === null) this.noteFirstKernel(k);
    this.live++;
    return out;
  }

  /** A host copy of a buffer's elements. */
  read(v: DeviceValue): Float32Array {
    if (v instanceof Float32Array) return v.slice();
    return v.toArray() as Float32Array;
  }

  release(v: DeviceValue): void {
    if (!(v instanceof Float32Array)) v.delete();
    this.live--;
  }

  stats(): DeviceStats {
    return { buffers: this.live, kernels: this.cache.size, glTextures: this.glTextures };
  }

  /** Frees every compiled kernel and the GL context. */
  destroy(): void {
    this.cache.clear();
    this.gpu.destroy();
  }

  private noteFirstKernel(k: IKernelRunShortcut): void {
    const kernel = k.kernel as unknown;
    // HeadlessGL and WebGL2 both extend WebGLKernel: test the most derived first.
    this.ran =
      kernel instanceof HeadlessGLKernel ? 'headlessgl'
      : kernel instanceof WebGL2Kernel ? 'webgl2'
      : kernel instanceof WebGLKernel ? 'webgl'
      : kernel instanceof WebAssemblyKernel ? 'webasm'
      : kernel instanceof CPUKernel ? 'cpu'
      : null;
    const gl = (k.kernel as { context?: unknown }).context as WebGLRenderingContext | undefined;
    if (gl && typeof gl.createTexture === 'function') this.countTextures(gl);
  }

  /** Counts GL textures created minus deleted in the shared context (all kernels share it). */
  private countTextures(gl: WebGLRenderingContext): void {
    const create = gl.createTexture.bind(gl);
    const del = gl.deleteTexture.bind(gl);
    this.glTextures = 0;
    gl.createTexture = () => {
      this.glTextures!++;
      return create();
    };
    gl.deleteTexture = (t: WebGLTexture | null) => {
      if (t) this.glTextures!--;
      del(t);
    };
  }
}

function sizeKey(a: Arg): string {
  if (typeof a === 'number') return 's';
  if (a instanceof Float32Array || a instanceof Float64Array) return `a${a.length}`;
  return `t${(a as unknown as { output: number[] }).output.join('x')}`;
}
