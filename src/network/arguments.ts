/**
 * The Network's arguments as plain JavaScript may get them wrong (TypeScript would catch most):
 * the constructor's, and batches of any array-likes converted to the network's dtype.
 */
import { describeValue, isFloatArray, toFloat } from '../nd/arrays.js';
import type { DType } from '../nd/dtype.js';
import type { Batch, BatchLike } from '../nd/model.js';
import { ShapeError, type Shape } from '../nd/shape.js';
import type { NetworkOptions } from './network.js';
import { checkSpecTree, resolveLimits, type NetworkLimits } from '../layers/limits.js';
import type { LayerSpec } from '../layers/registry.js';

const OPTIONS: readonly (keyof NetworkOptions)[] = ['loss', 'seed', 'checkInputs', 'threads', 'limits'];

/** The constructor's arguments; returns the size limits the network is built under. */
export function checkArguments(inShape: Shape, specs: readonly LayerSpec[], options: NetworkOptions): NetworkLimits {
  const show = (v: unknown) => JSON.stringify(v) ?? String(v);
  if (!Array.isArray(inShape)) throw new ShapeError(`network: the input shape must be an array, [C, ...spatial] or [features], got ${show(inShape)}`);
  if (!Array.isArray(specs)) throw new ShapeError(`network: the layers must be an array of layer specs, got ${show(specs)}`);
  if (typeof options !== 'object' || options === null) throw new TypeError(`network: options must be an object, got ${show(options)}`);
  const unknown = Object.keys(options).filter((k) => !(OPTIONS as string[]).includes(k));
  if (unknown.length > 0) throw new TypeError(`network: unknown option ${unknown.map((k) => `'${k}'`).join(', ')} (known: ${OPTIONS.join(', ')})`);
  if (options.seed !== undefined && !Number.isInteger(options.seed)) throw new TypeError(`network: seed must be an integer, got ${show(options.seed)}`);
  if (options.checkInputs !== undefined && typeof options.checkInputs !== 'boolean') {
    throw new TypeError(`network: checkInputs must be true or false, got ${show(options.checkInputs)}`);
  }
  const limits = resolveLimits(options.limits);
  checkSpecTree(specs, limits);
  return limits;
}

/** A caller's batch with x in `dtype` and y a typed array (labels are checked by the loss). */
export function toBatch(dtype: DType, where: string, b: BatchLike): Batch {
  if (typeof b !== 'object' || b === null) throw new TypeError(`${where}: the batch must be an object {x, y, n}, got ${describeValue(b)}`);
  const x = toFloat(where, 'batch.x', b.x, dtype);
  const y = b.y instanceof Int32Array || isFloatArray(b.y) ? b.y : toFloat(where, 'batch.y', b.y, 'float64');
  return x === b.x && y === b.y ? (b as Batch) : { x, y, n: b.n };
}
