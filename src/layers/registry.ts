/** Layer specs (plain JSON, so configs and checkpoints can store them) and the typed registry that builds them. */
import type { ActivationKind, Backend } from '../nd/backend.js';
import { ACTIVATIONS } from '../nd/backend.js';
import { ShapeError, type Shape } from '../nd/shape.js';
import { Activation } from './activation.js';
import { BatchNorm, type BatchNormSpec } from './batchnorm.js';
import { Conv, type ConvSpec } from './conv.js';
import { Dense, type DenseSpec } from './dense.js';
import { Dropout, type DropoutSpec } from './dropout.js';
import { Flatten, type FlattenSpec } from './flatten.js';
import type { Layer } from './layer.js';
import { MaxPool, type MaxPoolSpec } from './pool.js';

export interface ActivationSpec {
  kind: 'activation';
  fn: ActivationKind;
}

export function activation(fn: ActivationKind): ActivationSpec {
  return { kind: 'activation', fn };
}

export type LayerSpec = ConvSpec | MaxPoolSpec | DenseSpec | FlattenSpec | ActivationSpec | BatchNormSpec | DropoutSpec;

type Builders = {
  [K in LayerSpec['kind']]: (backend: Backend, name: string, inShape: Shape, spec: Extract<LayerSpec, { kind: K }>) => Layer;
};

export const layerTypes: Builders = {
  conv: (b, name, s, spec) => new Conv(b, name, s, spec),
  maxPool: (b, name, s, spec) => new MaxPool(b, name, s, spec),
  dense: (b, name, s, spec) => new Dense(b, name, s, spec),
  flatten: (b, name, s) => new Flatten(b, name, s),
  activation: (b, name, s, spec) => new Activation(b, name, s, spec.fn),
  batchNorm: (b, name, s, spec) => new BatchNorm(b, name, s, spec),
  dropout: (b, name, s, spec) => new Dropout(b, name, s, spec.p),
};

export function buildLayer(backend: Backend, index: number, inShape: Shape, spec: LayerSpec): Layer {
  const build = layerTypes[spec.kind] as (b: Backend, n: string, s: Shape, sp: LayerSpec) => Layer;
  const name = `${spec.kind}#${index}`;
  if (!build) throw new ShapeError(`${name}: unknown layer kind '${spec.kind}' (known: ${Object.keys(layerTypes).join(', ')})`);
  const act = 'activation' in spec ? spec.activation : 'fn' in spec ? spec.fn : undefined;
  if (act !== undefined && !ACTIVATIONS.includes(act)) {
    throw new ShapeError(`${name}: unknown activation '${act}' (known: ${ACTIVATIONS.join(', ')})`);
  }
  return build(backend, name, inShape, spec);
}
