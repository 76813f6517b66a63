/**
 * How big a network may be, checked while it is built and before anything of that size is
 * allocated, so an architecture from a file that claims 10⁹ channels or a 10¹⁰-value input is one
 * clear error instead of a RangeError from deep inside allocation. The defaults sit far above
 * what trains on a CPU (a quarter of 2³⁰ parameters is 1 GiB in float32, before gradients and
 * optimizer state) and far below what breaks allocation; NetworkOptions.limits raises them.
 */
import { ShapeError, fmt, sizeOf, type Shape } from '../nd/shape.js';
import type { Layer } from './layer.js';

export interface NetworkLimits {
  /** Trainable parameters of the whole network. */
  parameters: number;
  /** Values per sample: the input plus every layer's output (what a training pass keeps per sample). */
  activations: number;
  /** Layers, counting those inside residual blocks. */
  layers: number;
}

export const DEFAULT_LIMITS: Readonly<NetworkLimits> = { parameters: 2 ** 28, activations: 2 ** 28, layers: 10_000 };

/** Residual blocks inside residual blocks: a fixed bound, since checking and building recurse once per level. */
export const MAX_NESTING = 32;

/** A limit a network exceeds; `limit` names which and what it is, so a file reader can say what the file holds instead. */
export class LimitError extends ShapeError {
  override name = 'LimitError';

  constructor(
    message: string,
    readonly limit: keyof NetworkLimits,
    readonly value: number,
    readonly bound: number,
  ) {
    super(message);
  }
}

/** The limits in effect: the defaults with the caller's overrides, each a positive integer. */
export function resolveLimits(given: unknown): NetworkLimits {
  if (given === undefined) return { ...DEFAULT_LIMITS };
  if (typeof given !== 'object' || given === null || Array.isArray(given)) throw new TypeError(`network: limits must be an object {parameters, activations, layers}, got ${JSON.stringify(given)}`);
  const out = { ...DEFAULT_LIMITS };
  for (const [k, v] of Object.entries(given)) {
    if (!Object.prototype.hasOwnProperty.call(DEFAULT_LIMITS, k)) throw new TypeError(`network: unknown limit '${k}' (known: ${Object.keys(DEFAULT_LIMITS).join(', ')})`);
    if (v === undefined) continue;
    if (!(Number.isSafeInteger(v) && v > 0)) throw new TypeError(`network: limits.${k} must be a positive integer, got ${JSON.stringify(v)}`);
    out[k as keyof NetworkLimits] = v;
  }
  return out;
}

/**
 * The nesting depth and layer count of `specs`, walked without recursion (so neither a spec
 * nested thousands deep nor one that contains itself can overflow the stack), before any layer
 * is built.
 */
export function checkSpecTree(specs: readonly unknown[], limits: NetworkLimits): void {
  const stack: { list: readonly unknown[]; depth: number }[] = [{ list: specs, depth: 0 }];
  let layers = 0;
  while (stack.length) {
    const { list, depth } = stack.pop()!;
    layers += list.length;
    if (layers > limits.layers) {
      throw new LimitError(`network: more than the limit of ${limits.layers} layers (limits.layers), counting those inside residual blocks`, 'layers', layers, limits.layers);
    }
    for (const s of list) {
      const body = typeof s === 'object' && s !== null ? (s as { body?: unknown }).body : undefined;
      if (!Array.isArray(body)) continue;
      if (depth + 1 > MAX_NESTING) throw new ShapeError(`network: residual blocks nest more than ${MAX_NESTING} deep`);
      stack.push({ list: body, depth: depth + 1 });
    }
  }
}

/** Running totals while a network is built: each layer is counted as soon as it exists, before the next one allocates anything. */
export class SizeBudget {
  private parameters = 0;
  private activations: number;

  constructor(
    private readonly limits: NetworkLimits,
    inShape: Shape,
  ) {
    this.activations = sizeOf(inShape);
    if (this.activations > limits.activations) {
      throw new LimitError(
        `network: the input ${fmt(inShape)} holds ${this.activations} values per sample, more than the limit of ${limits.activations} (limits.activations)`,
        'activations', this.activations, limits.activations,
      );
    }
  }

  /** Counts `layer`'s output, and its parameters unless they are its children's (a container, counted already). */
  add(layer: Layer, container: boolean): void {
    if (!container) this.parameters += layer.paramShapes.reduce((n, s) => n + sizeOf(s), 0);
    this.activations += sizeOf(layer.outShape);
    if (this.parameters > this.limits.parameters) {
      throw new LimitError(
        `${layer.name}: brings the network to ${this.parameters} parameters, more than the limit of ${this.limits.parameters} (limits.parameters)`,
        'parameters', this.parameters, this.limits.parameters,
      );
    }
    if (this.activations > this.limits.activations) {
      throw new LimitError(
        `${layer.name}: brings the network to ${this.activations} values per sample (input and layer outputs), more than the limit of ${this.limits.activations} (limits.activations)`,
        'activations', this.activations, this.limits.activations,
      );
    }
  }
}
