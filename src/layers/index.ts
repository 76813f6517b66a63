export { Activation } from './activation.js';
export { Conv, conv, type ConvSpec } from './conv.js';
export { Dense, dense, type DenseSpec } from './dense.js';
export { Flatten, flatten, type FlattenSpec } from './flatten.js';
export type { Layer } from './layer.js';
export { losses, type Loss, type LossName, type Targets } from './loss.js';
export { Network, type NetworkCurvature, type NetworkOptions } from './network.js';
export { MaxPool, maxPool, type MaxPoolSpec } from './pool.js';
export { activation, buildLayer, layerTypes, type ActivationSpec, type LayerSpec } from './registry.js';
