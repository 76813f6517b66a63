/** ndcnn's public API: N-D tensors and backends, layers and networks, optimizers. */
export type { ActivationKind, Backend, Tensor } from './nd/backend';
export { ACTIVATIONS } from './nd/backend';
export { backends, createBackend, type BackendName, type BackendOptions } from './nd/backends';
export { cpuBackend, CpuBackend } from './nd/backends/cpu';
export { gpuBackend, gpuModes, GpuBackend, type GpuMode } from './nd/backends/gpu';
export type { DType, FloatArray } from './nd/dtype';
export { ConvGeometry, PoolGeometry, type ConvOptions, type PoolOptions } from './nd/geometry';
export { sliceBatch, type Batch, type Curvature, type Model } from './nd/model';
export { Rng } from './nd/rng';
export { ShapeError, type Shape } from './nd/shape';
export * from './layers';
export * from './optim';
