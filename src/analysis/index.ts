/** Curvature analysis over the Model interface: eigenpairs, traces, spectral densities, per block. */
export { BlockOperator, perBlock, perBlockAsync, type ParamBlock } from './blocks.js';
export { hutchinsonTrace, hutchinsonTraceAsync, type TraceEstimate, type TraceOptions } from './hutchinson.js';
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
