export { Network, type NetworkCurvature, type NetworkOptions, type NetworkState } from './network.js';
