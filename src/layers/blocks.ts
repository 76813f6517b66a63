/**
 * A network's parameter blocks for layer-wise curvature: one { name, offset, size } per layer
 * that has parameters (its weights then bias, contiguous in the flat vector). The analysis module
 * takes blocks in this shape and never sees a layer.
 */
import { sizeOf } from '../nd/shape.js';
import type { Layer } from './layer.js';

export function parameterBlocks(net: { readonly layers: readonly Layer[] }): { name: string; offset: number; size: number }[] {
  const blocks: { name: string; offset: number; size: number }[] = [];
  let offset = 0;
  for (const layer of net.layers) {
    const size = layer.paramShapes.reduce((s, shape) => s + sizeOf(shape), 0);
    if (size > 0) blocks.push({ name: layer.name, offset, size });
    offset += size;
  }
  return blocks;
}
