/**
 * K-FAC's side of the layers (the extension each layer file implements, BackPACK-style: from
 * what its forward and backward passes already hold) and the network-level pass that composes
 * them (src/analysis turns the result into operators; src/optim into the K-FAC optimizer).
 *
 * After a forward pass, `kroneckerInput` adds each layer's input statistics (A: Σ_{n,t} x̄x̄ᵀ of
 * its input columns; batch norm has none). Then one backward pass per output-gradient COLUMN
 * (each a per-sample dℓ_n/dz at the network's outputs) runs through `kroneckerBackward`, where
 * each layer adds that column's output statistics (G: Σ_{n,t} δδᵀ / T; batch norm: the per-sample
 * (dℓ/dγ, dℓ/dβ) outer products) while passing dE/dx down. The columns (kinds in model.ts):
 *   fisher     dℓ_n/dz at targets sampled from the model (Loss.sampledGradient); `samples`
 *              columns averaged
 *   ggn        the columns of S_n with H_ℓn = S_n S_nᵀ (Loss.hessianFactor), one per class, summed
 *   empirical  the true targets' dℓ_n/dz: the gradient pass's own backward, so it is free
 * Batch norm in training mode couples the samples: the "per-sample" rows of a column's backward
 * are then the rows of the batch's backward pass (every K-FAC implementation makes this choice;
 * with batch norm the per-sample gradients are not separable).
 */
import type { Tensor } from '../nd/backend.js';
import type { ChannelBlock, FactorKind, KroneckerBlock } from '../nd/model.js';
import { Rng } from '../nd/rng.js';
import type { Layer } from './layer.js';
import type { Loss, Targets } from './loss.js';

/** What a layer's K-FAC methods fill: its block, opened by kroneckerInput with its layout. */
export class KroneckerSink {
  private readonly kron = new Map<Layer, KroneckerBlock>();
  private readonly chan = new Map<Layer, ChannelBlock>();

  /** The layer's Kronecker block, created zeroed on the first call. */
  kronecker(layer: Layer, weight: number, rows: number, cols: number, bias: number | null): KroneckerBlock {
    let b = this.kron.get(layer);
    if (!b) {
      const c = cols + (bias === null ? 0 : 1);
      b = { name: layer.name, weight, rows, cols, bias, A: new Float64Array(c * c), G: new Float64Array(rows * rows) };
      this.kron.set(layer, b);
    }
    return b;
  }

  /** The layer's per-channel block, created zeroed on the first call. */
  channels(layer: Layer, scale: number, shift: number, channels: number): ChannelBlock {
    let b = this.chan.get(layer);
    if (!b) {
      b = { name: layer.name, scale, shift, channels, F: new Float64Array(3 * channels) };
      this.chan.set(layer, b);
    }
    return b;
  }

  /** The block a layer opened; its backward pass adds into it. */
  kroneckerOf(layer: Layer): KroneckerBlock {
    const b = this.kron.get(layer);
    if (!b) throw new Error(`${layer.name}: K-FAC backward before kroneckerInput opened its block`);
    return b;
  }

  channelsOf(layer: Layer): ChannelBlock {
    const b = this.chan.get(layer);
    if (!b) throw new Error(`${layer.name}: K-FAC backward before kroneckerInput opened its block`);
    return b;
  }

  /** The blocks in parameter order (they were opened in it). */
  blocks(): { kronecker: KroneckerBlock[]; channels: ChannelBlock[] } {
    return { kronecker: [...this.kron.values()], channels: [...this.chan.values()] };
  }
}

/** K-FAC's methods on a layer (optional on Layer: layers without parameters need none). */
export interface KroneckerLayer {
  /** Opens this layer's block at `offset` (its first parameter) and adds its input statistics. */
  kroneckerInput(offset: number, sink: KroneckerSink): void;
  /**
   * backward(dy, grad) that also adds this column's output statistics into the layer's block;
   * skips dE/dx (returns null) when `needDx` is false (the first layer).
   */
  kroneckerBackward(dy: Tensor, sink: KroneckerSink, grad: Tensor[] | null, needDx: boolean): Tensor | null;
}

/** The input pass over a sequence of layers whose parameters start at `offset`. */
export function sequenceInput(layers: readonly Layer[], offset: number, sink: KroneckerSink): void {
  for (const layer of layers) {
    if (layer.kroneckerInput) layer.kroneckerInput(offset, sink);
    else if (layer.paramShapes.length > 0) throw new Error(`${layer.name}: this layer has parameters but no K-FAC rule`);
    offset += layer.paramShapes.reduce((n, s) => n + s.reduce((a, b) => a * b, 1), 0);
  }
}

/** One column's backward pass through a layer that may or may not have K-FAC methods. */
export function layerBackward(layer: Layer, dy: Tensor, sink: KroneckerSink, grad: Tensor[] | null, needDx: boolean): Tensor | null {
  if (layer.kroneckerBackward) return layer.kroneckerBackward(dy, sink, grad, needDx);
  return layer.backward(dy, grad);
}

/**
 * The output-gradient columns of a batch for `kind` (n·k values each; row r is a per-sample
 * dℓ_r/dz, NOT divided by n): the loss's Hessian factor for 'ggn', `samples` sampled-target
 * gradients for 'fisher', drawn with one generator per sample seeded by `keys[r]` (a hash of the
 * sample, so a batch split over threads draws what it would draw whole).
 */
export function outputColumns(kind: Exclude<FactorKind, 'empirical'>, loss: Loss, z: ArrayLike<number>, y: Targets, n: number, k: number, keys: Uint32Array, samples: number): Float64Array[] {
  if (kind === 'ggn') return loss.hessianFactor(z, y, n, k);
  const rngs = Array.from(keys, (key) => new Rng(key));
  return Array.from({ length: samples }, () => {
    const col = new Float64Array(n * k);
    loss.sampledGradient(z, y, n, k, rngs, col);
    return col;
  });
}

/** a += b·w elementwise (host accumulators). */
export function addInto(a: Float64Array, b: ArrayLike<number>, w = 1): void {
  for (let i = 0; i < a.length; i++) a[i] += w * b[i];
}
