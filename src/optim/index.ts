/** The optimizers: SGD, conjugate gradient, Hessian-free; they see a Model and flat vectors only. */
export { MiniBatches, type Dataset, type MiniBatchState } from './batches';
export {
  ConjugateGradient,
  MARTENS_EPSILON,
  type CgIterate,
  type CgOptions,
  type CgProblem,
  type CgResult,
  type CgStop,
} from './cg';
export { HessianFree, type HfOptions, type HfReport } from './hf';
export type { Optimizer, StepReport } from './optimizer';
export { createOptimizer, isOptimizerName, optimizers, type OptimizerName, type OptimizerOptions } from './registry';
export {
  learningRate,
  schedules,
  validateSchedule,
  type ConstantSchedule,
  type CosineSchedule,
  type Schedule,
  type ScheduleKind,
  type StepSchedule,
} from './schedules';
export { Sgd, type MomentumKind, type SgdOptions, type SgdReport, type WeightDecayKind } from './sgd';
