/** Curvature analysis over the Model interface: eigenpairs, traces, spectral densities, per block. */
export { BlockOperator, perBlock, perBlockAsync, type ParamBlock } from './blocks.js';
export {
  hutchinsonDiagonal,
  hutchinsonDiagonalAsync,
  hutchinsonTrace,
  hutchinsonTraceAsync,
  type DiagonalEstimate,
  type DiagonalOptions,
  type TraceEstimate,
  type TraceOptions,
} from './hutchinson.js';
export { hutchPlusPlus, hutchPlusPlusAsync, type HutchPlusPlusEstimate, type HutchPlusPlusOptions } from './hutchpp.js';
export { eigenSolver, eigenSymmetric, type EigenImpl, type SymmetricEigen } from './eigen.js';
export {
  blendFactors,
  dataFactors,
  kroneckerOperator,
  KroneckerOperator,
  type DampingKind,
  type FactorEigen,
  type KroneckerDataOptions,
} from './kronecker.js';
export {
  lanczos,
  powerIteration,
  powerIterationAsync,
  topEigenpairs,
  topEigenpairsAsync,
  type Eigenpairs,
  type LanczosRun,
  type PowerOptions,
  type PowerResult,
  type TopEigenOptions,
} from './lanczos.js';
export { CurvatureOperator, type CurvatureOptions, type OperatorKind, type SymmetricOperator } from './operator.js';
export { spectralDensity, spectralDensityAsync, type DensityOptions, type SpectralDensity } from './slq.js';
export { symmetricEigen } from './tridiagonal.js';
