/**
 * Shape checks of the Backend contract, shared by every backend so that a misfit reads the same
 * whichever backend runs: the operation, every shape involved, and what was expected.
 */
import type { Tensor } from './backend.js';
import type { ConvGeometry, PoolGeometry } from './geometry.js';
import { ShapeError, fmt, sameShape, sizeOf } from './shape.js';

export function checkSameSize(op: string, a: Tensor, b: Tensor): void {
  if (sizeOf(a.shape) !== sizeOf(b.shape)) {
    throw new ShapeError(`${op}: shapes ${fmt(a.shape)} and ${fmt(b.shape)} differ in size`);
  }
}

/** Checks x-like, y-like and w-like tensors against the geometry; returns the batch size. */
export function checkConv(op: string, x: Tensor, y: Tensor, w: Tensor, g: ConvGeometry): number {
  const n = x.shape[0];
  if (!sameShape(x.shape, g.inShape(n)) || !sameShape(y.shape, g.outShape(n)) || !sameShape(w.shape, g.weightShape())) {
    throw new ShapeError(
      `${op}: input ${fmt(x.shape)}, output ${fmt(y.shape)}, weights ${fmt(w.shape)} do not fit the geometry ` +
        `(expects ${fmt(g.inShape(n))}, ${fmt(g.outShape(n))}, ${fmt(g.weightShape())})`,
    );
  }
  return n;
}

/** Checks convBackFilterSamples' arguments; returns the number of samples m in dw. */
export function checkConvSamples(op: string, x: Tensor, dy: Tensor, dw: Tensor, g: ConvGeometry, first: number): number {
  const n = x.shape[0];
  const m = dw.shape[0];
  if (!sameShape(x.shape, g.inShape(n)) || !sameShape(dy.shape, g.outShape(n)) || !sameShape(dw.shape, [m, ...g.weightShape()])) {
    throw new ShapeError(
      `${op}: input ${fmt(x.shape)}, output gradient ${fmt(dy.shape)}, per-sample weights ${fmt(dw.shape)} do not fit the geometry ` +
        `(expects ${fmt(g.inShape(n))}, ${fmt(g.outShape(n))}, [m, ${g.weightShape().join(', ')}])`,
    );
  }
  if (!Number.isInteger(first) || first < 0 || first + m > n) {
    throw new ShapeError(`${op}: samples ${first}..${first + m - 1} lie outside the batch of ${n}`);
  }
  return m;
}

/** Elements per (n, c) plane for a bias over axis 1 of y. */
export function checkBias(op: string, y: Tensor, b: Tensor): number {
  if (b.shape.length !== 1 || y.shape.length < 2 || y.shape[1] !== b.shape[0]) {
    throw new ShapeError(`${op}: bias ${fmt(b.shape)} does not match the channels of ${fmt(y.shape)}`);
  }
  return sizeOf(y.shape.slice(2));
}

/**
 * Checks a max-pool's input-like x, output-like y and argmax against its geometry (maxPool,
 * gather, scatterAdd); returns the batch size.
 */
export function checkPool(op: string, x: Tensor, y: Tensor, argmax: Tensor, g: PoolGeometry): number {
  const n = x.shape[0];
  if (!sameShape(x.shape, g.inShape(n)) || !sameShape(y.shape, g.outShape(n)) || !sameShape(argmax.shape, y.shape)) {
    throw new ShapeError(
      `${op}: x ${fmt(x.shape)}, y ${fmt(y.shape)}, argmax ${fmt(argmax.shape)} do not fit the pool geometry ` +
        `(expects ${fmt(g.inShape(n))} → ${fmt(g.outShape(n))})`,
    );
  }
  return n;
}

/** Checks an average pool's input-like x and output-like y against its geometry; returns the batch size. */
export function checkAvgPool(op: string, x: Tensor, y: Tensor, g: PoolGeometry): number {
  const n = x.shape[0];
  if (!sameShape(x.shape, g.inShape(n)) || !sameShape(y.shape, g.outShape(n))) {
    throw new ShapeError(
      `${op}: x ${fmt(x.shape)}, y ${fmt(y.shape)} do not fit the pool geometry (expects ${fmt(g.inShape(n))} → ${fmt(g.outShape(n))})`,
    );
  }
  return n;
}

/** C = op(A)·op(B) on 2-D tensors: returns [M, N, K]. */
export function checkGemm(C: Tensor, A: Tensor, B: Tensor, transA: boolean, transB: boolean): [number, number, number] {
  const [M, K] = transA ? [A.shape[1], A.shape[0]] : [A.shape[0], A.shape[1]];
  const [K2, N] = transB ? [B.shape[1], B.shape[0]] : [B.shape[0], B.shape[1]];
  if (A.shape.length !== 2 || B.shape.length !== 2 || K !== K2 || !sameShape(C.shape, [M, N])) {
    throw new ShapeError(
      `gemm: op(A) of ${fmt(A.shape)}${transA ? 'ᵀ' : ''} times op(B) of ${fmt(B.shape)}${transB ? 'ᵀ' : ''} ` +
        `does not fit C ${fmt(C.shape)}`,
    );
  }
  return [M, N, K];
}
