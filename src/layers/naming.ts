/**
 * PyTorch names for a network's tensors, so its parameters and buffers line up one-to-one with
 * an equivalent `nn.Sequential`'s state_dict: `0.weight`, `0.bias`, `4.weight`, `3.body.0.weight`.
 *
 * nn.Sequential numbers every module, parameterless ones included, so
 * `nn.Sequential(Conv2d, ReLU, MaxPool2d, Flatten, Linear)` names its tensors `0.weight`,
 * `0.bias`, `4.weight`, `4.bias`. ndcnn's conv and dense may fuse an activation; a fused
 * non-identity activation is its own module there (Conv2d at slot i, ReLU at slot i+1), so
 * `[conv({activation: 'relu'}), maxPool, flatten, dense]` gets exactly the names above. A fused
 * identity adds no module (PyTorch has nothing to write); a standalone activation('identity')
 * layer is an nn.Identity and takes a slot like any other layer.
 */
import type { Shape } from '../nd/shape.js';
import { sizeOf } from '../nd/shape.js';
import type { Layer, LayerBuffer } from './layer.js';

/** One parameter tensor: its PyTorch name, shape and place in the network's flat vector. */
export interface NamedParameter {
  readonly name: string;
  readonly shape: Shape;
  readonly offset: number;
  readonly size: number;
}

const DEFAULT_PARAM_NAMES = ['weight', 'bias'];

/** The layer's parameter names relative to its first slot: its own, or weight (and bias). */
export function paramNamesOf(layer: Layer): readonly string[] {
  const names = layer.paramNames ?? DEFAULT_PARAM_NAMES.slice(0, layer.paramShapes.length);
  if (names.length !== layer.paramShapes.length) {
    throw new Error(`${layer.name}: ${layer.paramShapes.length} parameter tensors but ${names.length} names (set Layer.paramNames)`);
  }
  return names;
}

/** Module-path prefix of each layer in a sequence: `${prefix}${slot}.`, slots counted as nn.Sequential does. */
export function slotPrefixes(layers: readonly Layer[], prefix = ''): string[] {
  let slot = 0;
  return layers.map((layer) => {
    const p = `${prefix}${slot}.`;
    slot += layer.modules ?? 1;
    return p;
  });
}

/** Parameter names of a sequence of layers, in flat-vector order (for a container's paramNames). */
export function sequentialParamNames(layers: readonly Layer[], prefix = ''): string[] {
  const prefixes = slotPrefixes(layers, prefix);
  return layers.flatMap((layer, i) => paramNamesOf(layer).map((n) => prefixes[i] + n));
}

/** Buffers of a sequence of layers under their full names (for a container's buffers). */
export function sequentialBuffers(layers: readonly Layer[], prefix = ''): LayerBuffer[] {
  const prefixes = slotPrefixes(layers, prefix);
  return layers.flatMap((layer, i) => (layer.buffers ?? []).map((b) => ({ ...b, name: prefixes[i] + b.name })));
}

/** Each layer's named parameters (with offsets in the flat vector) and named buffers. */
export function layerTensors(layers: readonly Layer[]): { params: NamedParameter[]; buffers: LayerBuffer[] }[] {
  const names = sequentialParamNames(layers);
  const prefixes = slotPrefixes(layers);
  let offset = 0;
  let k = 0;
  return layers.map((layer, i) => ({
    params: layer.paramShapes.map((shape) => {
      const p = { name: names[k++], shape, offset, size: sizeOf(shape) };
      offset += p.size;
      return p;
    }),
    buffers: (layer.buffers ?? []).map((b) => ({ ...b, name: prefixes[i] + b.name })),
  }));
}
