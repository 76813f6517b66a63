/** ndcnn's public API: N-D tensors and backends, layers and networks, optimizers, model files, curvature analysis. */
export type { ActivationFn, ActivationKind, Backend, Tensor } from './nd/backend.js';
export { ACTIVATIONS, LEAKY_RELU_SLOPE, SOFTPLUS_THRESHOLD } from './nd/backend.js';
export { backends, createBackend, openBackend, type BackendName, type BackendOptions } from './nd/backends/index.js';
export type { AsyncReads } from './nd/backend.js';
export { cpuBackend, CpuBackend } from './nd/backends/cpu/index.js';
export { gpuBackend, gpuModes, GpuBackend, type GpuMode } from './nd/backends/gpu/index.js';
export { WebGpuBackend, type WebGpuStats } from './nd/backends/webgpu/index.js';
export { runLater, runNow, settle, type Later, type Maybe } from './nd/later.js';
export type { DType, FloatArray } from './nd/dtype.js';
export { ConvGeometry, PoolGeometry, type ConvOptions, type PoolOptions } from './nd/geometry.js';
export {
  sliceBatch,
  type AsyncCurvature,
  type AsyncModel,
  type Batch,
  type BatchLike,
  type ChannelBlock,
  type Curvature,
  type CurvatureSetup,
  type FactorKind,
  type FactorOptions,
  type KroneckerBlock,
  type KroneckerFactors,
  type Model,
} from './nd/model.js';
export type { Numbers, Output } from './nd/arrays.js';
export { Rng } from './nd/rng.js';
export { ShapeError, type Shape } from './nd/shape.js';
export * from './layers/index.js';
export * from './network/index.js';
export * from './optim/index.js';
export * from './io/index.js';
export * from './analysis/index.js';
