/**
 * Optimizers by name, so an experiment picks one from its config or command line
 * (`createOptimizer('hf', { curvatureBatch: 256 })`). Option defaults are documented on
 * SgdOptions (sgd.ts), HfOptions (hf.ts), AdamOptions (adam.ts) and KfacOptions (kfac.ts).
 */
import { Adam, AdamW, type AdamOptions } from './adam.js';
import { HessianFree, type HfOptions } from './hf.js';
import { Kfac, type KfacOptions } from './kfac.js';
import type { Optimizer } from './optimizer.js';
import { Sgd, type SgdOptions } from './sgd.js';

export const optimizers = {
  sgd: (options?: SgdOptions) => new Sgd(options),
  hf: (options?: HfOptions) => new HessianFree(options),
  adam: (options?: AdamOptions) => new Adam(options),
  adamw: (options?: AdamOptions) => new AdamW(options),
  kfac: (options?: KfacOptions) => new Kfac(options),
} satisfies Record<string, (options?: never) => Optimizer>;

export type OptimizerName = keyof typeof optimizers;
export type OptimizerOptions<N extends OptimizerName> = Parameters<(typeof optimizers)[N]>[0];

export function isOptimizerName(name: string): name is OptimizerName {
  return Object.prototype.hasOwnProperty.call(optimizers, name);
}

export function createOptimizer<N extends OptimizerName>(
  name: N,
  options?: OptimizerOptions<N>,
): ReturnType<(typeof optimizers)[N]> {
  if (!isOptimizerName(name)) {
    throw new Error(`unknown optimizer '${name}' (known: ${Object.keys(optimizers).join(', ')})`);
  }
  const make = optimizers[name] as (options?: OptimizerOptions<N>) => ReturnType<(typeof optimizers)[N]>;
  return make(options);
}
