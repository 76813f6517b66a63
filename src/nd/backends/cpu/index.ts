/**
 * The CPU backend: typed arrays seen through ndarray views, elementwise work on ndarray-ops,
 * convolution lowered to GEMM (conv.ts), pooling by argmax (pool.ts). float64 and float32.
 */
import ops from 'ndarray-ops';
import { activationParts, type ActivationFn, type Backend, type Tensor } from '../../backend.js';
import { allocate, dtypeOf, type DType, type FloatArray } from '../../dtype.js';
import { checkAvgPool, checkBias, checkConv, checkConvSamples, checkGemm, checkPool, checkSameSize } from '../../checks.js';
import type { ConvGeometry, PoolGeometry } from '../../geometry.js';
import { ShapeError, fmt, sizeOf, type Shape } from '../../shape.js';
import { ColBuffer, convBackData, convBackFilter, convBackFilterSamples, convForward, patchGram } from './conv.js';
import { activationKernels, derivativeTimes } from './elementwise.js';
import { defaultGemm, describeGemm, type GemmChoice } from './gemm-select.js';
import { avgPool, avgPoolBack } from './pool.js';
import { sampleMoments } from './samples.js';
import { CpuTensor, cpu } from './tensor.js';

export { CpuTensor } from './tensor.js';

export class CpuBackend implements Backend {
  readonly name = 'cpu';
  private readonly scratch: ColBuffer;

  /** `kernels`: the GEMM and its lowering (chooseGemm), by default what NDCNN_GEMM asks for. */
  constructor(
    readonly dtype: DType,
    readonly kernels: GemmChoice = defaultGemm(),
  ) {
    if (dtype !== 'float32' && dtype !== 'float64') throw new TypeError(`cpu backend: dtype must be 'float32' or 'float64', got ${JSON.stringify(dtype)}`);
    this.scratch = new ColBuffer((n) => allocate(dtype, n));
  }

  describe(): string {
    return `cpu (${this.dtype}, ${describeGemm(this.kernels.info, this.dtype)})`;
  }

  upload(shape: Shape, data: ArrayLike<number>): Tensor {
    const t = new CpuTensor(shape, allocate(this.dtype, sizeOf(shape)));
    if (data.length !== t.data.length) {
      throw new ShapeError(`upload: shape ${fmt(shape)} needs ${t.data.length} values, got ${data.length}`);
    }
    t.data.set(data);
    return t;
  }

  wrap(shape: Shape, host: FloatArray): Tensor {
    if (dtypeOf(host) !== this.dtype) {
      throw new TypeError(`cpu backend (${this.dtype}): cannot wrap a ${dtypeOf(host)} array without a copy`);
    }
    return new CpuTensor(shape, host);
  }

  writeBack(): void {
    // wrap() shares memory: the host array already holds every write.
  }

  download(t: Tensor): FloatArray {
    return cpu(t).data.slice();
  }

  zeros(shape: Shape): Tensor {
    return new CpuTensor(shape, allocate(this.dtype, sizeOf(shape)));
  }

  reshape(t: Tensor, shape: Shape): Tensor {
    return new CpuTensor(shape, cpu(t).data);
  }

  dispose(): void {
    // Garbage-collected memory; nothing to release early.
  }

  activation(out: Tensor, x: Tensor, fn: ActivationFn, order: 0 | 1 | 2, times?: Tensor): void {
    const o = same(out, x, 'activation').data;
    const { kind, slope } = activationParts(fn);
    const { loops } = this.kernels;
    const fused = derivativeTimes[kind];
    if (times && order === 1 && fused) {
      const m = same(times, x, 'activation').data;
      if (kind === 'relu') loops.reluTimes(o, cpu(x).data, m);
      else fused(o, cpu(x).data, m, slope);
      return;
    }
    if (kind === 'relu' && order === 0) loops.relu(o, cpu(x).data);
    else activationKernels[kind][order](o, cpu(x).data, slope);
    if (times) this.mul(out, out, times);
  }

  mul(out: Tensor, a: Tensor, b: Tensor): void {
    same(a, b, 'mul');
    ops.mul(same(out, a, 'mul').nd, cpu(a).nd, cpu(b).nd);
  }

  axpy(y: Tensor, alpha: number, x: Tensor): void {
    const yd = same(y, x, 'axpy').data;
    const xd = cpu(x).data;
    for (let i = 0; i < yd.length; i++) yd[i] += alpha * xd[i];
  }

  scale(out: Tensor, x: Tensor, alpha: number): void {
    ops.muls(same(out, x, 'scale').nd, cpu(x).nd, alpha);
  }

  fill(out: Tensor, value: number): void {
    // The typed array's own fill: a memset, where ndarray-ops' loop cost ~2 ns per element.
    cpu(out).data.fill(value);
  }

  gemm(C: Tensor, A: Tensor, B: Tensor, transA: boolean, transB: boolean, alpha: number, beta: number): void {
    const [c, a, b] = [cpu(C), cpu(A), cpu(B)];
    const [M, N, K] = checkGemm(C, A, B, transA, transB);
    this.kernels.gemm(transA, transB, M, N, K, alpha, a.data, 0, a.shape[1], b.data, 0, b.shape[1], beta, c.data, 0, N);
  }

  dot(a: Tensor, b: Tensor): number {
    const ad = same(a, b, 'dot').data;
    const bd = cpu(b).data;
    let s = 0;
    for (let i = 0; i < ad.length; i++) s += ad[i] * bd[i];
    return s;
  }

  conv(y: Tensor, x: Tensor, w: Tensor, g: ConvGeometry, accumulate: boolean): void {
    const n = checkConv('conv', x, y, w, g);
    convForward(this.kernels, this.scratch, cpu(y).data, cpu(x).data, cpu(w).data, g, n, accumulate);
  }

  convBackData(dx: Tensor, dy: Tensor, w: Tensor, g: ConvGeometry, accumulate: boolean): void {
    const n = checkConv('convBackData', dx, dy, w, g);
    convBackData(this.kernels, this.scratch, cpu(dx).data, cpu(dy).data, cpu(w).data, g, n, accumulate);
  }

  convBackFilter(dw: Tensor, x: Tensor, dy: Tensor, g: ConvGeometry, accumulate: boolean): void {
    const n = checkConv('convBackFilter', x, dy, dw, g);
    convBackFilter(this.kernels, this.scratch, cpu(dw).data, cpu(x).data, cpu(dy).data, g, n, accumulate);
  }

  convBackFilterSamples(dw: Tensor, x: Tensor, dy: Tensor, g: ConvGeometry, first: number): void {
    const m = checkConvSamples('convBackFilterSamples', x, dy, dw, g, first);
    convBackFilterSamples(this.kernels, this.scratch, cpu(dw).data, cpu(x).data, cpu(dy).data, g, first, m);
  }

  sampleMoments(G: Tensor, norms: Tensor | null, squares: Tensor | null, sums: Tensor | null): void {
    const m = G.shape[0];
    const P = sizeOf(G.shape) / m;
    for (const [t, n, what] of [[norms, m, 'norms'], [squares, P, 'squares'], [sums, P, 'sums']] as const) {
      if (t && sizeOf(t.shape) !== n) throw new ShapeError(`sampleMoments: ${what} ${fmt(t.shape)} does not fit per-sample gradients ${fmt(G.shape)}`);
    }
    sampleMoments(cpu(G).data, m, P, norms && cpu(norms).data, squares && cpu(squares).data, sums && cpu(sums).data);
  }

  patchGram(out: Tensor, x: Tensor, g: ConvGeometry, homogeneous: boolean): void {
    const c = g.cin * g.kernelVolume + (homogeneous ? 1 : 0);
    const n = x.shape[0];
    if (x.shape.length !== g.rank + 2 || x.shape[1] !== g.cin || x.shape.slice(2).some((v, a) => v !== g.inSize[a]) || sizeOf(out.shape) !== c * c) {
      throw new ShapeError(`patchGram: input ${fmt(x.shape)} and output ${fmt(out.shape)} do not fit the geometry (input [n, ${g.cin}, ${g.inSize.join(', ')}], output ${c}×${c})`);
    }
    patchGram(this.kernels, this.scratch, cpu(out).data, cpu(x).data, g, n, homogeneous);
  }

  biasAdd(y: Tensor, b: Tensor): void {
    const [yd, bd] = [cpu(y).data, cpu(b).data];
    this.kernels.loops.biasAdd(yd, bd, checkBias('biasAdd', y, b));
  }

  biasGrad(db: Tensor, dy: Tensor): void {
    const [dyd, dbd] = [cpu(dy).data, cpu(db).data];
    this.kernels.loops.biasGrad(dbd, dyd, checkBias('biasGrad', dy, db));
  }

  channelAffine(out: Tensor, x: Tensor, a: Tensor, b: Tensor): void {
    const [od, xd, ad, bd] = [same(out, x, 'channelAffine').data, cpu(x).data, cpu(a).data, cpu(b).data];
    const inner = checkBias('channelAffine', x, a);
    checkBias('channelAffine', x, b);
    for (let p = 0, i = 0; i < xd.length; p++) {
      const [s, t] = [ad[p % ad.length], bd[p % bd.length]];
      for (const end = i + inner; i < end; i++) od[i] = s * xd[i] + t;
    }
  }

  maxPool(y: Tensor, argmax: Tensor, x: Tensor, g: PoolGeometry): void {
    const n = checkPool('maxPool', x, y, argmax, g);
    this.kernels.loops.maxPool(cpu(y).data, cpu(argmax).data, cpu(x).data, g, n * g.channels);
  }

  gather(y: Tensor, x: Tensor, argmax: Tensor, g: PoolGeometry): void {
    checkPool('gather', x, y, argmax, g);
    this.kernels.loops.gather(cpu(y).data, cpu(x).data, cpu(argmax).data, g.inVolume, g.outVolume);
  }

  scatterAdd(dx: Tensor, dy: Tensor, argmax: Tensor, g: PoolGeometry): void {
    checkPool('scatterAdd', dx, dy, argmax, g);
    this.kernels.loops.scatterAdd(cpu(dx).data, cpu(dy).data, cpu(argmax).data, g.inVolume, g.outVolume);
  }

  avgPool(y: Tensor, x: Tensor, g: PoolGeometry, countPad: boolean): void {
    const n = checkAvgPool('avgPool', x, y, g);
    avgPool(cpu(y).data, cpu(x).data, g, n * g.channels, countPad);
  }

  avgPoolBack(dx: Tensor, dy: Tensor, g: PoolGeometry, countPad: boolean): void {
    const n = checkAvgPool('avgPoolBack', dx, dy, g);
    avgPoolBack(cpu(dx).data, cpu(dy).data, g, n * g.channels, countPad);
  }
}

/** A CPU backend in `dtype` computing with `kernels` (chooseGemm; default: defaultGemm()). */
export function cpuBackend(dtype: DType = 'float32', kernels?: GemmChoice): CpuBackend {
  return new CpuBackend(dtype, kernels);
}

function same(out: Tensor, x: Tensor, op: string): CpuTensor {
  checkSameSize(op, out, x);
  return cpu(out);
}

