export { Activation } from './activation';
export { Conv, conv, type ConvSpec } from './conv';
export { Dense, dense, type DenseSpec } from './dense';
export { Flatten, flatten, type FlattenSpec } from './flatten';
export type { Layer } from './layer';
export { losses, type Loss, type LossName, type Targets } from './loss';
export { Network, type NetworkOptions } from './network';
export { MaxPool, maxPool, type MaxPoolSpec } from './pool';
export { activation, buildLayer, layerTypes, type ActivationSpec, type LayerSpec } from './registry';
