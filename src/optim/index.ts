/** The optimizers: SGD, Adam/AdamW, conjugate gradient, Hessian-free, K-FAC; they see a Model and flat vectors only. */
export { Adam, AdamW, type AdamOptions } from './adam.js';
export { clipGradNorm } from './clip.js';
export { MiniBatches, type Samples, type MiniBatchState } from './batches.js';
export {
  ConjugateGradient,
  MARTENS_EPSILON,
  type CgIterate,
  type CgOptions,
  type CgProblem,
  type CgResult,
  type CgStop,
  type CgSteps,
} from './cg.js';
export { Kfac, type KfacOptions, type KfacReport } from './kfac.js';
export { HessianFree, LAMBDA_MAX, LAMBDA_MIN, type HfOptions, type HfPreconditioner, type HfReport } from './hf.js';
export type { Optimizer, StepReport } from './optimizer.js';
export { createOptimizer, isOptimizerName, optimizers, type OptimizerName, type OptimizerOptions } from './registry.js';
export {
  learningRate,
  schedules,
  validateSchedule,
  type ConstantSchedule,
  type CosineSchedule,
  type Schedule,
  type ScheduleKind,
  type StepSchedule,
  type WarmupCosineSchedule,
} from './schedules.js';
export { Sgd, type MomentumKind, type SgdOptions, type SgdReport, type WeightDecayKind } from './sgd.js';
export {
  train,
  TrainingDiverged,
  type EpochInfo,
  type StepInfo,
  type TrainOptions,
  type TrainProgress,
  type TrainSummary,
} from './train.js';
