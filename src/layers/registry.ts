/** Layer specs (plain JSON, so configs and checkpoints can store them) and the typed registry that builds them. */
import type { ActivationFn, Backend } from '../nd/backend.js';
import { ACTIVATIONS } from '../nd/backend.js';
import { ShapeError, type Shape } from '../nd/shape.js';
import { Activation } from './activation.js';
import { AvgPool, globalAvgPoolLayer, type AvgPoolSpec, type GlobalAvgPoolSpec } from './avgpool.js';
import { BatchNorm, type BatchNormSpec } from './batchnorm.js';
import { Conv, type ConvSpec } from './conv.js';
import { Dense, type DenseSpec } from './dense.js';
import { Dropout, type DropoutSpec } from './dropout.js';
import { Flatten, type FlattenSpec } from './flatten.js';
import { INIT_KINDS } from './init.js';
import type { Layer } from './layer.js';
import type { SizeBudget } from './limits.js';
import { MaxPool, type MaxPoolSpec } from './pool.js';
import { Residual, type ResidualSpec } from './residual.js';

export interface ActivationSpec {
  kind: 'activation';
  fn: ActivationFn;
}

/** An activation layer: a name, or `{ kind: 'leaky-relu', slope }` for another negative slope. */
export function activation(fn: ActivationFn): ActivationSpec {
  return { kind: 'activation', fn };
}

export type LayerSpec = ConvSpec | MaxPoolSpec | AvgPoolSpec | GlobalAvgPoolSpec | DenseSpec | FlattenSpec | ActivationSpec | ResidualSpec | BatchNormSpec | DropoutSpec;

type Builders = {
  [K in LayerSpec['kind']]: (backend: Backend, name: string, inShape: Shape, spec: Extract<LayerSpec, { kind: K }>, budget?: SizeBudget) => Layer;
};

export const layerTypes: Builders = {
  conv: (b, name, s, spec) => new Conv(b, name, s, spec),
  maxPool: (b, name, s, spec) => new MaxPool(b, name, s, spec),
  avgPool: (b, name, s, spec) => new AvgPool(b, name, s, spec),
  globalAvgPool: (b, name, s) => globalAvgPoolLayer(b, name, s),
  dense: (b, name, s, spec) => new Dense(b, name, s, spec),
  flatten: (b, name, s) => new Flatten(b, name, s),
  activation: (b, name, s, spec) => new Activation(b, name, s, spec.fn),
  residual: (b, name, s, spec, budget) => new Residual(b, name, s, spec, (inShape, child, childName) => buildLayer(b, 0, inShape, child, childName, budget)),
  batchNorm: (b, name, s, spec) => new BatchNorm(b, name, s, spec),
  dropout: (b, name, s, spec) => new Dropout(b, name, s, spec.p),
};

type Options<K extends LayerSpec['kind']> = Exclude<keyof Extract<LayerSpec, { kind: K }>, 'kind'>;

/**
 * Each kind's options, required and optional, so that a misspelt or missing option is an error
 * naming the layer, as it would be in TypeScript, also for specs from plain JavaScript or JSON.
 */
export const layerOptions: { [K in LayerSpec['kind']]: { required: readonly Options<K>[]; optional: readonly Options<K>[] } } = {
  conv: { required: ['channels', 'kernel'], optional: ['stride', 'padding', 'dilation', 'activation', 'bias', 'init'] },
  maxPool: { required: ['window'], optional: ['stride'] },
  dense: { required: ['units'], optional: ['activation', 'bias', 'init'] },
  flatten: { required: [], optional: [] },
  activation: { required: ['fn'], optional: [] },
  avgPool: { required: ['window'], optional: ['stride', 'padding', 'countIncludePad'] },
  globalAvgPool: { required: [], optional: [] },
  residual: { required: ['body'], optional: ['projection'] },
  batchNorm: { required: [], optional: ['eps', 'momentum'] },
  dropout: { required: ['p'], optional: [] },
};

/**
 * The layer for `spec` at position `index` of a network, named `kind#index` unless `name` is
 * given (a block's children); `budget` counts its size against the network's limits.
 */
export function buildLayer(backend: Backend, index: number, inShape: Shape, spec: LayerSpec, name?: string, budget?: SizeBudget): Layer {
  name = checkSpec(index, spec, name);
  const build = layerTypes[spec.kind] as (b: Backend, n: string, s: Shape, sp: LayerSpec, budget?: SizeBudget) => Layer;
  const layer = build(backend, name, inShape, spec, budget);
  // A residual block's parameters are its children's, counted as they were built.
  budget?.add(layer, spec.kind === 'residual');
  return layer;
}

/** Checks what every kind shares (an object, a known kind, known options, bias, init, activation); returns the layer's name. */
function checkSpec(index: number, spec: LayerSpec, named?: string): string {
  const has = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);
  if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) {
    throw new ShapeError(`${named ?? `layer #${index}`}: a layer spec must be an object {kind, ...options}, got ${JSON.stringify(spec) ?? String(spec)}`);
  }
  if (typeof spec.kind !== 'string' || !has(layerTypes, spec.kind)) {
    throw new ShapeError(`${named ?? `layer #${index}`}: unknown layer kind ${JSON.stringify(spec.kind)} (known: ${Object.keys(layerTypes).join(', ')})`);
  }
  const name = named ?? `${spec.kind}#${index}`;
  const { required, optional } = layerOptions[spec.kind] as { required: readonly string[]; optional: readonly string[] };
  const given = Object.keys(spec).filter((k) => k !== 'kind' && (spec as unknown as Record<string, unknown>)[k] !== undefined);
  const unknown = given.filter((k) => !required.includes(k) && !optional.includes(k));
  if (unknown.length > 0) {
    const known = [...required, ...optional];
    throw new ShapeError(`${name}: unknown option${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `'${k}'`).join(', ')} (${spec.kind} takes ${known.length > 0 ? known.join(', ') : 'no options'})`);
  }
  const missing = required.filter((k) => !given.includes(k));
  if (missing.length > 0) throw new ShapeError(`${name}: missing option${missing.length > 1 ? 's' : ''} ${missing.map((k) => `'${k}'`).join(', ')}`);
  if ('bias' in spec && spec.bias !== undefined && typeof spec.bias !== 'boolean') {
    throw new ShapeError(`${name}: bias must be true or false, got ${JSON.stringify(spec.bias)}`);
  }
  if ('init' in spec && spec.init !== undefined && !INIT_KINDS.includes(spec.init)) {
    throw new ShapeError(`${name}: unknown init ${JSON.stringify(spec.init)} (known: ${INIT_KINDS.join(', ')})`);
  }
  const act = 'activation' in spec ? spec.activation : 'fn' in spec ? spec.fn : undefined;
  if (act !== undefined) checkActivation(name, act);
  return name;
}

function checkActivation(name: string, act: ActivationFn): void {
  const kind = typeof act === 'object' && act !== null ? act.kind : act;
  if (!ACTIVATIONS.includes(kind)) {
    throw new ShapeError(`${name}: unknown activation ${JSON.stringify(kind)} (known: ${ACTIVATIONS.join(', ')})`);
  }
  if (typeof act === 'object' && (kind !== 'leaky-relu' || !Number.isFinite(act.slope))) {
    throw new ShapeError(`${name}: activation ${JSON.stringify(act)}: only leaky-relu takes an object, { kind: 'leaky-relu', slope: <finite number> }`);
  }
}
