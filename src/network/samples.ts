/**
 * The options and results of the Network's per-sample and diagonal curvature methods
 * (Network.perSample, Network.curvatureDiagonal), with their argument checks. The passes are in
 * src/layers/passes.ts (samplesOn, diagonalOn), each layer's share in its own file (perSample).
 */
import type { FloatArray } from '../nd/dtype.js';
import type { ActivationFn } from '../nd/backend.js';
import type { Layer } from '../layers/layer.js';
import type { FisherDraws } from '../layers/passes.js';
import type { CurvatureSetup } from '../nd/model.js';
import type { LayerSpec } from '../layers/registry.js';
import type { NamedParameter } from '../layers/naming.js';

/**
 * How a pass runs: 'train' (the default; batch statistics, this step's dropout masks) or 'eval'
 * (running statistics, no dropout: how PyHessian and most loss-landscape studies look at a
 * trained network).
 */
export interface ModeOptions {
  mode?: 'train' | 'eval';
}

export interface SampleOptions extends ModeOptions {
  /**
   * Materialise each sample's gradient for these layers (index in the network's layer list, or
   * layer name such as 'conv#0'), or for every layer with `true`. Default: none.
   */
  gradients?: boolean | readonly (number | string)[];
  /** Each sample's squared gradient norm, per parameter tensor and in all (default true). */
  norms?: boolean;
  /** The second moment Σ_n g_n² and the variance (default true). */
  moments?: boolean;
}

/** One parameter tensor's per-sample gradients: `data` holds n rows of `size` values (row n is g_n). */
export interface SampleGradients extends NamedParameter {
  readonly data: FloatArray;
}

/**
 * Per-sample quantities of a batch's mean loss L = (1/n) Σ_n ℓ_n, with BackPACK's conventions:
 * g_n = ∇(ℓ_n / n), sample n's term of the gradient, so Σ_n g_n = ∇L.
 */
export interface SampleQuantities {
  /** The mean loss. */
  readonly loss: number;
  readonly n: number;
  /** ∇L = Σ_n g_n (flat, the network's layout and dtype). */
  readonly gradient: FloatArray;
  /** ‖g_n‖² for each sample: in all, and per parameter tensor by its PyTorch name (BatchL2Grad). */
  readonly norms?: { readonly total: Float64Array; readonly byTensor: Readonly<Record<string, Float64Array>> };
  /** Σ_n g_n² elementwise (SumGradSquared). n times it is the empirical Fisher's diagonal. */
  readonly secondMoment?: FloatArray;
  /**
   * (1/n) Σ_n g_n² − ((1/n) Σ_n g_n)² elementwise: the variance of the g_n over the batch
   * (BackPACK's Variance for a mean loss). The variance of the ∇ℓ_n themselves is n² times it.
   */
  readonly variance?: FloatArray;
  /** The materialised g_n of the chosen layers' parameter tensors (BatchGrad). */
  readonly gradients?: readonly SampleGradients[];
}

/**
 * What Network.curvatureDiagonal computes, all of the batch's mean loss:
 *   'ggn'               diag G, G = Jᵀ H_L J (equal to the Fisher for both losses, whose links
 *                       are canonical); exact: one backward pass per output (k); 'mc': a
 *                       Monte-Carlo estimate from `samples` passes with targets sampled from
 *                       the model (unbiased)
 *   'hessian'           diag H, exact: diag G plus, at every smooth activation (sigmoid, tanh,
 *                       GELU, softplus), the columns of its second-derivative term carried
 *                       down (2 backward passes per element of its input; BackPACK's
 *                       DiagHessian); with piecewise-linear layers only, diag H = diag G.
 *                       Refused with batch norm in training mode and for smooth activations
 *                       inside residual blocks (estimate it by Hutchinson there).
 *   'empirical-fisher'  (1/n) Σ_n (∇ℓ_n)², from one backward pass (n · the second moment)
 */
export interface CurvatureDiagonalOptions extends ModeOptions {
  of?: 'ggn' | 'hessian' | 'empirical-fisher';
  /** 'exact' (default) or 'mc' (the GGN's Monte-Carlo estimate). */
  estimate?: 'exact' | 'mc';
  /** Sampled targets per sample for 'mc' (default 1). */
  samples?: number;
  /** Seed of the sampled targets (default 1). */
  seed?: number;
}

const MODES = ['train', 'eval'];

export function checkMode(where: string, o: ModeOptions | undefined): boolean {
  if (o === undefined) return false;
  if (typeof o !== 'object' || o === null) throw new TypeError(`${where}: options must be an object, got ${JSON.stringify(o)}`);
  if (o.mode !== undefined && !MODES.includes(o.mode)) throw new Error(`${where}: mode must be 'train' or 'eval', got ${JSON.stringify(o.mode)}`);
  return o.mode === 'eval';
}

/** A curvature's Fisher draws from its setup (Model.curvature), checked. */
export function checkFisher(o: CurvatureSetup | undefined): FisherDraws {
  if (o !== undefined) checkKeys('curvature', o, ['mode', 'samples', 'seed']);
  const samples = o?.samples ?? 1;
  const seed = o?.seed ?? 1;
  if (!Number.isInteger(samples) || samples < 1) throw new Error(`curvature: samples must be a positive integer, got ${JSON.stringify(o?.samples)}`);
  if (!Number.isInteger(seed)) throw new Error(`curvature: seed must be an integer, got ${JSON.stringify(o?.seed)}`);
  return { samples, seed };
}

function checkKeys(where: string, o: object, known: readonly string[]): void {
  const unknown = Object.keys(o).filter((k) => !known.includes(k));
  if (unknown.length > 0) throw new TypeError(`${where}: unknown option ${unknown.map((k) => `'${k}'`).join(', ')} (known: ${known.join(', ')})`);
}

/** The layer indices whose per-sample gradients `o.gradients` asks for (only layers with parameters). */
export function sampleLayers(o: SampleOptions, layers: readonly Layer[]): number[] {
  checkKeys('perSample', o, ['mode', 'gradients', 'norms', 'moments']);
  for (const k of ['norms', 'moments'] as const) {
    if (o[k] !== undefined && typeof o[k] !== 'boolean') throw new TypeError(`perSample: ${k} must be true or false, got ${JSON.stringify(o[k])}`);
  }
  const g = o.gradients ?? false;
  const withParams = layers.map((l, i) => (l.paramShapes.length > 0 ? i : -1)).filter((i) => i >= 0);
  if (g === true) return withParams;
  if (g === false) return [];
  if (!Array.isArray(g)) throw new TypeError(`perSample: gradients must be true, false or a list of layer indices or names, got ${JSON.stringify(g)}`);
  return [...new Set(g.map((key: number | string) => {
    const i = typeof key === 'number' ? key : layers.findIndex((l) => l.name === key);
    if (!Number.isInteger(i) || i < 0 || i >= layers.length) {
      throw new Error(`perSample: no layer ${JSON.stringify(key)} (layers: ${layers.map((l, j) => `${j} ${l.name}`).join(', ')})`);
    }
    if (layers[i].paramShapes.length === 0) throw new Error(`perSample: layer ${layers[i].name} has no parameters`);
    return i;
  }))].sort((a, b) => a - b);
}

export function checkDiagonalOptions(o: CurvatureDiagonalOptions): Required<Omit<CurvatureDiagonalOptions, 'mode'>> {
  checkKeys('curvatureDiagonal', o, ['mode', 'of', 'estimate', 'samples', 'seed']);
  const of = o.of ?? 'ggn';
  const estimate = o.estimate ?? 'exact';
  if (!['ggn', 'hessian', 'empirical-fisher'].includes(of)) throw new Error(`curvatureDiagonal: 'of' must be 'ggn', 'hessian' or 'empirical-fisher', got ${JSON.stringify(of)}`);
  if (!['exact', 'mc'].includes(estimate)) throw new Error(`curvatureDiagonal: estimate must be 'exact' or 'mc', got ${JSON.stringify(estimate)}`);
  if (estimate === 'mc' && of !== 'ggn') throw new Error(`curvatureDiagonal: the Monte-Carlo estimate is of the GGN only (of: 'ggn'), not of '${of}'`);
  const samples = o.samples ?? 1;
  if (!Number.isInteger(samples) || samples < 1) throw new Error(`curvatureDiagonal: samples must be a positive integer, got ${JSON.stringify(o.samples)}`);
  const seed = o.seed ?? 1;
  if (!Number.isInteger(seed)) throw new Error(`curvatureDiagonal: seed must be an integer, got ${JSON.stringify(o.seed)}`);
  return { of, estimate, samples, seed };
}

const PIECEWISE_LINEAR = ['identity', 'relu', 'leaky-relu'];

/** The activation a spec applies (fused or its own), by kind. */
function activationOf(s: LayerSpec): string | undefined {
  const act: ActivationFn | undefined = s.kind === 'conv' || s.kind === 'dense' ? s.activation : s.kind === 'activation' ? s.fn : undefined;
  return typeof act === 'object' ? act.kind : act;
}

/**
 * Why these layers have no exact Hessian diagonal (Network.curvatureDiagonal), or null: batch
 * norm on batch statistics (samples coupled), or a smooth activation inside a residual block
 * (its residual columns would have to start inside the block's body).
 */
export function hessianDiagonalRefusal(specs: readonly LayerSpec[], layers: readonly Layer[], evaluation: boolean, inBlock = false): string | null {
  for (let i = 0; i < specs.length; i++) {
    const s = specs[i];
    const kind = activationOf(s);
    if (inBlock && kind !== undefined && !PIECEWISE_LINEAR.includes(kind)) return `${layers[i].name} applies ${kind} inside a residual block`;
    if (s.kind === 'batchNorm' && !evaluation) return `${layers[i].name} normalises by batch statistics in training mode`;
    if (s.kind === 'residual') {
      const inner = hessianDiagonalRefusal(s.body, s.body.map((_, j) => ({ name: `${layers[i].name}.body.${j}` }) as Layer), evaluation, true);
      if (inner) return inner;
    }
  }
  return null;
}

/** The shapes of a row block of samplesOn's output, per parameter tensor of the chosen layers. */
export function chosenTensors(params: readonly NamedParameter[], layers: readonly Layer[], chosen: readonly number[]): NamedParameter[] {
  const out: NamedParameter[] = [];
  let t = 0;
  layers.forEach((l, i) => {
    const count = l.paramShapes.length;
    if (chosen.includes(i)) out.push(...params.slice(t, t + count));
    t += count;
  });
  return out;
}
