/** Layer specs (plain JSON, so configs and checkpoints can store them) and the typed registry that builds them. */
import type { ActivationFn, Backend } from '../nd/backend.js';
import { ACTIVATIONS } from '../nd/backend.js';
import { ShapeError, type Shape } from '../nd/shape.js';
import { Activation } from './activation.js';
import { AvgPool, globalAvgPoolLayer, type AvgPoolSpec, type GlobalAvgPoolSpec } from './avgpool.js';
import { Conv, type ConvSpec } from './conv.js';
import { Dense, type DenseSpec } from './dense.js';
import { Flatten, type FlattenSpec } from './flatten.js';
import type { Layer } from './layer.js';
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

export type LayerSpec = ConvSpec | MaxPoolSpec | AvgPoolSpec | GlobalAvgPoolSpec | DenseSpec | FlattenSpec | ActivationSpec | ResidualSpec;

type Builders = {
  [K in LayerSpec['kind']]: (backend: Backend, name: string, inShape: Shape, spec: Extract<LayerSpec, { kind: K }>) => Layer;
};

export const layerTypes: Builders = {
  conv: (b, name, s, spec) => new Conv(b, name, s, spec),
  maxPool: (b, name, s, spec) => new MaxPool(b, name, s, spec),
  avgPool: (b, name, s, spec) => new AvgPool(b, name, s, spec),
  globalAvgPool: (b, name, s) => globalAvgPoolLayer(b, name, s),
  dense: (b, name, s, spec) => new Dense(b, name, s, spec),
  flatten: (b, name, s) => new Flatten(b, name, s),
  activation: (b, name, s, spec) => new Activation(b, name, s, spec.fn),
  residual: (b, name, s, spec) => new Residual(b, name, s, spec, (inShape, child, childName) => buildLayer(b, 0, inShape, child, childName)),
};

/** The layer for `spec` at position `index` of a network, named `kind#index` unless `name` is given. */
export function buildLayer(backend: Backend, index: number, inShape: Shape, spec: LayerSpec, name = `${spec.kind}#${index}`): Layer {
  const build = layerTypes[spec.kind] as (b: Backend, n: string, s: Shape, sp: LayerSpec) => Layer;
  if (!build) throw new ShapeError(`${name}: unknown layer kind '${spec.kind}' (known: ${Object.keys(layerTypes).join(', ')})`);
  const act = 'activation' in spec ? spec.activation : 'fn' in spec ? spec.fn : undefined;
  if (act !== undefined) checkActivation(name, act);
  return build(backend, name, inShape, spec);
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
