/**
 * The Backend contract, primitive by primitive in ranks 1, 2, 3 with stride, padding and
 * dilation, on every float32 backend (the CPU's, gpu.js's and WebGPU's), against the CPU backend in
 * float64 run on the very same float32-representable inputs.
 *
 * Tolerance, from the operation's size: a float32 sum of n products of float32 inputs, stored
 * as float32, is off by at most γ_{n+1}·Σ|terms| + u·|result| ≤ (n+2)·u·Σ|terms| (u = ε32/2,
 * Higham, Accuracy and Stability, §3.1), whatever the summation order, so a two-stage GPU
 * reduction obeys the same bound. We allow (n+2)·ε32·Σ|terms|, twice that, for GPUs that
 * flush denormals or fuse multiply-adds. Σ|terms| is measured exactly: the same primitive in
 * float64 on |inputs|. A wrong index or a missing term is off by a whole term, ~10^6 times more.
 */
import { describe, expect, it } from 'vitest';
import type { ActivationFn, Backend } from '../../src/nd/backend.js';
import { ACTIVATIONS, readsAsync, type Tensor } from '../../src/nd/backend.js';
import { cpuBackend } from '../../src/nd/backends/cpu/index.js';
import { ConvGeometry, PoolGeometry, type ConvOptions, type PoolOptions } from '../../src/nd/geometry.js';
import { Rng } from '../../src/nd/rng.js';
import { sizeOf, type Shape } from '../../src/nd/shape.js';
import { EPS32, gpu, gpuTitle, skipGpu } from '../gpu/gpu-mode.js';
import { webgpu, webgpuTitle, skipWebgpu } from '../webgpu/webgpu-env.js';

const REF = cpuBackend('float64');
const rng = new Rng(7);

/** Seeded normals rounded to float32, so every backend sees exactly the same numbers. */
function f32(shape: Shape, scale = 1): Float64Array {
  const a = new Float64Array(sizeOf(shape));
  for (let i = 0; i < a.length; i++) a[i] = Math.fround(scale * rng.normal());
  return a;
}

const absAll = (a: Float64Array) => a.map(Math.abs);

/** A host copy of t: download, or read where the backend reads back only asynchronously (WebGPU). */
async function get(B: Backend, t: Tensor): Promise<ArrayLike<number>> {
  return readsAsync(B) ? B.read(t) : B.download(t);
}

/** A primitive run on backend B from host inputs; `k` maps scalars (identity, or |·| for Σ|terms|). */
type Op = (B: Backend, ins: Float64Array[], k: (v: number) => number) => Promise<ArrayLike<number>>;

/** Checks B against the float64 reference within (n+2)·ε32·Σ|terms| per element. */
async function agrees(B: Backend, op: Op, ins: Float64Array[], n: number): Promise<void> {
  const got = await op(B, ins, (v) => v);
  const want = await op(REF, ins, (v) => v);
  const mag = await op(REF, ins.map(absAll), Math.abs);
  expect(got.length).toBe(want.length);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < want.length; i++) {
    const r = Math.abs(got[i] - want[i]) / ((n + 2) * EPS32 * mag[i] + 1e-37);
    if (!(r <= worst)) [worst, at] = [r, i];
  }
  expect(worst, `element ${at}: got ${got[at]}, want ${want[at]}, Σ|terms| ${mag[at]}, n = ${n}`).toBeLessThanOrEqual(1);
}

const CONVS: [Shape, ConvOptions][] = [
  [[2, 9], { channels: 3, kernel: 3 }],
  [[2, 11], { channels: 3, kernel: 3, stride: 2, padding: 1, dilation: 2 }],
  [[2, 6, 7], { channels: 3, kernel: [3, 2] }],
  [[3, 7, 6], { channels: 2, kernel: [2, 3], stride: [2, 1], padding: [1, 0], dilation: [1, 2] }],
  [[2, 4, 5, 4], { channels: 3, kernel: 2 }],
  [[2, 5, 4, 6], { channels: 2, kernel: [2, 2, 3], stride: 2, padding: 1, dilation: [2, 1, 1] }],
];

const POOLS: [Shape, PoolOptions][] = [
  [[3, 9], { window: 2 }],
  [[2, 6, 7], { window: [2, 3], stride: [2, 2] }],
  // The 2-D 2×2 window has its own unrolled CPU loop: disjoint (odd width: floor) and overlapping.
  [[2, 6, 7], { window: 2 }],
  [[2, 5, 5], { window: 2, stride: 1 }],
  [[2, 4, 5, 6], { window: 2 }],
  [[2, 5, 4, 5], { window: [3, 2, 2], stride: [1, 2, 1] }],
];

const AVG_POOLS: [Shape, PoolOptions][] = [
  [[3, 9], { window: 3, stride: 2, padding: 1 }],
  [[2, 6, 7], { window: [2, 3], stride: [1, 2], padding: [1, 1] }],
  [[2, 4, 5, 6], { window: 2 }],
  [[2, 5, 4, 5], { window: [3, 2, 3], stride: [2, 1, 1], padding: [1, 0, 1] }],
];

const N = 2;

const backends: [string, () => Backend, boolean][] = [
  ['cpu float32', () => cpuBackend('float32'), false],
  [gpuTitle('gpu'), gpu, skipGpu],
  [webgpuTitle('webgpu'), () => webgpu()!, skipWebgpu],
];

describe.each(backends)('%s', (_name, make, skip) => {
  const B = () => make();

  describe.skipIf(skip)('primitives', () => {
    it('upload / download / zeros / fill round-trip exactly', async () => {
      const b = B();
      const x = f32([3, 5]);
      expect(Array.from(await get(b, b.upload([3, 5], x)))).toEqual(Array.from(x));
      expect(Array.from(await get(b, b.zeros([4])))).toEqual([0, 0, 0, 0]);
      const t = b.zeros([2, 2]);
      b.fill(t, 1.5);
      expect(Array.from(await get(b, t))).toEqual([1.5, 1.5, 1.5, 1.5]);
    });

    it('wrap / writeBack copy device writes into the host slice; reshape views share the buffer', async () => {
      const b = B();
      const host = new Float32Array([1, 2, 3, 4, 5, 6]);
      const t = b.wrap([2, 3], host.subarray(0, 6));
      const view = b.reshape(t, [6]);
      b.scale(view, view, 2);
      // An asynchronous backend has no synchronous writeBack: the passes read the tensor into its host slice.
      if (readsAsync(b)) host.set(await b.read(t));
      else b.writeBack(t);
      expect(Array.from(host)).toEqual([2, 4, 6, 8, 10, 12]);
      expect(Array.from(await get(b, t))).toEqual([2, 4, 6, 8, 10, 12]);
    });

    const activations: ActivationFn[] = [...ACTIVATIONS, { kind: 'leaky-relu', slope: 0.2 }];
    for (const kind of activations) {
      for (const order of [0, 1, 2] as const) {
        it(`activation ${JSON.stringify(kind)} order ${order}`, async () => {
          // GLSL leaves exp's accuracy to the driver (a few ulp on Mesa); the formulas add ≤ 6
          // roundings with cancellation near σ = ½, so 64·ε32·(1 + |f|) ≈ 8e-6 bounds them; a
          // wrong derivative formula is off by O(0.1).
          // Scale 9 reaches GELU's and sigmoid's tails; two entries straddle softplus's threshold 20.
          const x = f32([N, 3, 7], 9);
          x[0] = 19.5;
          x[1] = 20.5;
          const op: Op = async (bk, [a]) => {
            const t = bk.upload([N, 3, 7], a);
            bk.activation(t, t, kind, order);
            return get(bk, t);
          };
          const got = await op(B(), [x], (v) => v);
          const want = await op(REF, [x], (v) => v);
          for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(64 * EPS32 * (1 + Math.abs(want[i])));
        });
      }
    }

    it('mul, axpy, scale (out aliasing an input)', async () => {
      const [a, c] = [f32([N, 2, 5]), f32([N, 2, 5])];
      await agrees(B(), async (bk, [x, y]) => {
        const t = bk.upload([N, 2, 5], x);
        bk.mul(t, t, bk.upload([N, 2, 5], y));
        return get(bk, t);
      }, [a, c], 1);
      await agrees(B(), async (bk, [x, y], k) => {
        const t = bk.upload([N, 2, 5], y);
        bk.axpy(t, k(-0.75), bk.upload([N, 2, 5], x));
        return get(bk, t);
      }, [a, c], 2);
      await agrees(B(), async (bk, [x], k) => {
        const t = bk.upload([N, 2, 5], x);
        bk.scale(t, t, k(-1.5));
        return get(bk, t);
      }, [a], 1);
    });

    // Thin products and ones past a 64×64 tile in both directions (WebGPU tiles those).
    for (const [M, K, Nn] of [[5, 7, 4], [70, 33, 66]]) for (const [tA, tB] of [[false, false], [true, false], [false, true], [true, true]]) {
      it(`gemm ${M}×${K}·${K}×${Nn}${tA ? ' Aᵀ' : ''}${tB ? ' Bᵀ' : ''} with alpha and beta`, async () => {
        const [sA, sB] = [tA ? [K, M] : [M, K], tB ? [Nn, K] : [K, Nn]];
        await agrees(B(), async (bk, [a, b, c], k) => {
          const C = bk.upload([M, Nn], c);
          bk.gemm(C, bk.upload(sA, a), bk.upload(sB, b), tA, tB, k(0.7), k(-1.3));
          return get(bk, C);
        }, [f32(sA), f32(sB), f32([M, Nn])], K + 1);
      });
    }

    it('dot over more elements than one reduction chunk', async () => {
      const n = 1000;
      await agrees(B(), async (bk, [a, b]) => [readsAsync(bk) ? await bk.dotAsync(bk.upload([n], a), bk.upload([n], b)) : bk.dot(bk.upload([n], a), bk.upload([n], b))], [f32([n]), f32([n])], n);
    });

    for (const [inShape, o] of CONVS) {
      const g = new ConvGeometry('spec', inShape, o);
      const [xs, ys, ws] = [g.inShape(N), g.outShape(N), g.weightShape()];
      const title = `rank ${g.rank} ${JSON.stringify(o)} on ${JSON.stringify(inShape)}`;
      for (const acc of [false, true]) {
        it(`conv${acc ? ' (accumulate)' : ''}: ${title}`, async () => {
          await agrees(B(), async (bk, [x, w, y]) => {
            const Y = bk.upload(ys, y);
            bk.conv(Y, bk.upload(xs, x), bk.upload(ws, w), g, acc);
            return get(bk, Y);
          }, [f32(xs), f32(ws), f32(ys)], g.cin * g.kernelVolume + 1);
        });
        it(`convBackData${acc ? ' (accumulate)' : ''}: ${title}`, async () => {
          await agrees(B(), async (bk, [dy, w, dx]) => {
            const DX = bk.upload(xs, dx);
            bk.convBackData(DX, bk.upload(ys, dy), bk.upload(ws, w), g, acc);
            return get(bk, DX);
          }, [f32(ys), f32(ws), f32(xs)], g.cout * g.kernelVolume + 1);
        });
        it(`convBackFilter${acc ? ' (accumulate)' : ''}: ${title}`, async () => {
          await agrees(B(), async (bk, [x, dy, dw]) => {
            const DW = bk.upload(ws, dw);
            bk.convBackFilter(DW, bk.upload(xs, x), bk.upload(ys, dy), g, acc);
            return get(bk, DW);
          }, [f32(xs), f32(ys), f32(ws)], N * g.outVolume + 1);
        });
      }
      it(`biasAdd and biasGrad: rank ${g.rank} on ${JSON.stringify(ys)}`, async () => {
        await agrees(B(), async (bk, [y, b]) => {
          const Y = bk.upload(ys, y);
          bk.biasAdd(Y, bk.upload([g.cout], b));
          return get(bk, Y);
        }, [f32(ys), f32([g.cout])], 1);
        await agrees(B(), async (bk, [dy, db]) => {
          const DB = bk.upload([g.cout], db);
          bk.biasGrad(DB, bk.upload(ys, dy));
          return get(bk, DB);
        }, [f32(ys), f32([g.cout])], N * g.outVolume + 1);
      });
    }

    for (const shape of [[N, 5], [N, 3, 7], [N, 2, 4, 3], [N, 3, 2, 3, 2]]) {
      it(`channelAffine a[c]·x + b[c] (out aliasing x): ${JSON.stringify(shape)}`, async () => {
        const c = shape[1];
        await agrees(B(), async (bk, [x, a, b]) => {
          const t = bk.upload(shape, x);
          bk.channelAffine(t, t, bk.upload([c], a), bk.upload([c], b));
          return get(bk, t);
        }, [f32(shape), f32([c]), f32([c])], 2);
      });
    }

    for (const [inShape, o] of POOLS) {
      const g = new PoolGeometry('spec', inShape, o);
      const [xs, ys] = [g.inShape(N), g.outShape(N)];
      it(`maxPool, gather, scatterAdd: rank ${g.rank} ${JSON.stringify(o)} on ${JSON.stringify(inShape)}`, async () => {
        const b = B();
        const [x, rx, dy, dx0] = [f32(xs), f32(xs), f32(ys), f32(xs)];
        const run = async (bk: Backend, absIn: boolean) => {
          const m = absIn ? absAll : (a: Float64Array) => a;
          const [X, Y, A] = [bk.upload(xs, x), bk.zeros(ys), bk.zeros(ys)];
          // Comparisons only: values and argmax (in-plane offsets) must match exactly.
          bk.maxPool(Y, A, X, g);
          // gather and scatterAdd get the geometry, not state maxPool left: a fresh copy of
          // argmax must serve as well as the tensor maxPool wrote.
          const A2 = bk.upload(ys, await get(bk, A));
          const RY = bk.zeros(ys);
          bk.gather(RY, bk.upload(xs, rx), A2, g);
          const DX = bk.upload(xs, m(dx0));
          bk.scatterAdd(DX, bk.upload(ys, m(dy)), A2, g);
          return { y: await get(bk, Y), a: await get(bk, A), ry: await get(bk, RY), dx: await get(bk, DX) };
        };
        const [got, want, mag] = [await run(b, false), await run(REF, false), await run(REF, true)];
        expect(Array.from(got.a)).toEqual(Array.from(want.a));
        expect(Array.from(got.y)).toEqual(Array.from(want.y));
        expect(Array.from(got.ry)).toEqual(Array.from(want.ry));
        // Overlapping windows route up to Π⌈w/s⌉ errors into one element, plus the old value.
        const n = g.w3.reduce((p, w, a) => p * Math.ceil(w / g.s3[a]), 1) + 1;
        for (let i = 0; i < want.dx.length; i++) {
          expect(Math.abs(got.dx[i] - want.dx[i])).toBeLessThanOrEqual((n + 2) * EPS32 * mag.dx[i]);
        }
      });
      it(`gather and scatterAdd refuse tensors that do not fit the pool geometry: rank ${g.rank}`, async () => {
        const b = B();
        const other = new PoolGeometry('other', [inShape[0] + 1, ...inShape.slice(1)], o);
        const [X, Y, A] = [b.zeros(xs), b.zeros(ys), b.zeros(ys)];
        expect(() => b.gather(Y, X, A, other)).toThrow(/gather: .* do not fit the pool geometry/);
        expect(() => b.scatterAdd(X, Y, A, other)).toThrow(/scatterAdd: .* do not fit the pool geometry/);
      });
    }

    for (const [inShape, o] of AVG_POOLS) {
      const g = new PoolGeometry('spec', inShape, o);
      const [xs, ys] = [g.inShape(N), g.outShape(N)];
      const windowVolume = g.w3.reduce((p, w) => p * w, 1);
      for (const countPad of [true, false]) {
        const title = `rank ${g.rank} ${JSON.stringify(o)} on ${JSON.stringify(inShape)}, countPad ${countPad}`;
        it(`avgPool: ${title}`, async () => {
          await agrees(B(), async (bk, [x]) => {
            const Y = bk.zeros(ys);
            bk.avgPool(Y, bk.upload(xs, x), g, countPad);
            return get(bk, Y);
          }, [f32(xs)], windowVolume + 1);
        });
        it(`avgPoolBack: ${title}`, async () => {
          // Each input element gathers from at most Π⌈w/s⌉ windows, one division each.
          const n = g.w3.reduce((p, w, a) => p * Math.ceil(w / g.s3[a]), 1) + 1;
          await agrees(B(), async (bk, [dy, dx]) => {
            const DX = bk.upload(xs, dx);
            bk.avgPoolBack(DX, bk.upload(ys, dy), g, countPad);
            return get(bk, DX);
          }, [f32(ys), f32(xs)], n);
        });
      }
    }
  });
});
