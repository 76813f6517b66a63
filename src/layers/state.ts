/**
 * State dicts: a network's tensors by PyTorch name (naming.ts) as plain `{shape, data}` records,
 * parameters and buffers of each module in module order, as torch's `state_dict()` lists them.
 * Loading checks that the names match exactly (nothing unknown, nothing missing) and that every
 * shape agrees, naming the tensor and both shapes when one does not.
 */
import { checkNumbers } from '../nd/arrays.js';
import { allocate, type DType } from '../nd/dtype.js';
import { ShapeError, fmt, sameShape, sizeOf, type Shape } from '../nd/shape.js';
import type { LayerBuffer } from './layer.js';
import type { NamedParameter } from './naming.js';

/** One tensor: row-major data of `shape` (an empty shape is a scalar). */
export interface TensorData {
  shape: number[];
  data: ArrayLike<number>;
}

/** Tensors by name, in module order. */
export type StateDict = Record<string, TensorData>;

/** Copies of each layer's parameters (from the flat vector) then its buffers, layer by layer. */
export function collectState(params: ArrayLike<number>, layers: { params: NamedParameter[]; buffers: LayerBuffer[] }[], dtype: DType): StateDict {
  const dict: StateDict = {};
  const copy = (src: ArrayLike<number>, from: number, size: number) => {
    const d = allocate(dtype, size);
    for (let i = 0; i < size; i++) d[i] = src[from + i];
    return d;
  };
  for (const layer of layers) {
    for (const p of layer.params) dict[p.name] = { shape: [...p.shape], data: copy(params, p.offset, p.size) };
    for (const b of layer.buffers) dict[b.name] = { shape: [...b.shape], data: copy(b.data, 0, b.data.length) };
  }
  return dict;
}

/**
 * Writes `dict` into the flat parameter vector and the layers' buffers after checking every name,
 * shape and value: numbers only, finite in the network's dtype (1e39 is finite in float64 but
 * Infinity in float32), integers where the buffer counts something, ≥ 0 where it is a variance.
 */
export function applyState(dict: StateDict, params: { set(a: ArrayLike<number>, offset: number): void }, named: NamedParameter[], buffers: readonly LayerBuffer[], dtype: DType): void {
  if (typeof dict !== 'object' || dict === null) throw new ShapeError('loadStateDict: expected an object of {shape, data} by tensor name');
  const known = new Map<string, Shape>();
  for (const p of named) known.set(p.name, p.shape);
  for (const b of buffers) known.set(b.name, b.shape);
  const given = Object.keys(dict);
  const unknown = given.filter((n) => !known.has(n));
  if (unknown.length) {
    throw new ShapeError(`loadStateDict: unknown tensor${unknown.length > 1 ? 's' : ''} ${unknown.map((n) => `'${n}'`).join(', ')} (the network has ${[...known.keys()].join(', ') || 'no tensors'})`);
  }
  const missing = [...known.keys()].filter((n) => !Object.prototype.hasOwnProperty.call(dict, n));
  if (missing.length) throw new ShapeError(`loadStateDict: missing tensor${missing.length > 1 ? 's' : ''} ${missing.map((n) => `'${n}'`).join(', ')}`);
  for (const p of named) checkTensor(p.name, dict[p.name], p.shape, dtype);
  for (const b of buffers) checkTensor(b.name, dict[b.name], b.shape, dtype, b);
  for (const p of named) params.set(dict[p.name].data, p.offset);
  for (const b of buffers) b.data.set(dict[b.name].data);
}

function checkTensor(name: string, t: TensorData, shape: Shape, dtype: DType, buffer?: LayerBuffer): void {
  if (!t || typeof t !== 'object' || !Array.isArray(t.shape)) throw new ShapeError(`loadStateDict: '${name}' should be {shape: number[], data: numbers}`);
  checkNumbers('loadStateDict', `'${name}'.data`, t.data);
  if (!sameShape(t.shape, shape)) throw new ShapeError(`loadStateDict: '${name}' has shape ${fmt(shape)} in the network, ${fmt(t.shape)} given`);
  if (t.data.length !== sizeOf(shape)) {
    throw new ShapeError(`loadStateDict: '${name}' of shape ${fmt(shape)} needs ${sizeOf(shape)} values, ${t.data.length} given`);
  }
  const problem = firstProblem(t.data, dtype, buffer);
  if (problem) throw new ShapeError(`loadStateDict: '${name}' holds ${problem}`);
}

/** What is wrong with the first value `data` cannot hold as `dtype` (or as `buffer`'s kind of value), if anything. */
export function firstProblem(data: ArrayLike<number>, dtype: DType, buffer?: LayerBuffer): string | undefined {
  const f32 = dtype === 'float32';
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (!Number.isFinite(v)) return `${v} at element ${i}`;
    if (f32 && !Number.isFinite(Math.fround(v))) return `${v} at element ${i}, which overflows float32 to ${Math.fround(v)}`;
    if (buffer?.integer && !(Number.isSafeInteger(v) && v >= 0)) return `${v} at element ${i}, not a count (a non-negative integer)`;
    if (buffer?.nonNegative && v < 0) return `${v} at element ${i}; a variance is never negative`;
  }
  return undefined;
}
