export { Network, type NetworkCurvature, type NetworkOptions, type NetworkState } from './network.js';
export type { CurvatureDiagonalOptions, ModeOptions, SampleGradients, SampleOptions, SampleQuantities } from './samples.js';
