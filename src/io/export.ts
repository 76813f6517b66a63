/** The file formats a network can be written in, by name (the CLI's `export --format`). */
import type { Network } from '../network/index.js';
import { saveNpz, saveSafetensors } from './model.js';
import { saveOnnx } from './onnx/export.js';

export interface ExportOptions {
  /** ONNX only: end the graph with Softmax (probabilities instead of logits). */
  softmax?: boolean;
}

export const exportFormats = {
  safetensors: { extension: 'safetensors', save: (net: Network, path: string) => saveSafetensors(net, path) },
  onnx: { extension: 'onnx', save: (net: Network, path: string, o: ExportOptions) => saveOnnx(net, path, o) },
  npz: { extension: 'npz', save: (net: Network, path: string) => saveNpz(net, path) },
} as const;

export type ExportFormat = keyof typeof exportFormats;

export function isExportFormat(name: string): name is ExportFormat {
  return Object.prototype.hasOwnProperty.call(exportFormats, name);
}

/** Writes `net` to `path` in `format`, atomically. */
export function exportNetwork(net: Network, format: ExportFormat, path: string, o: ExportOptions = {}): void {
  exportFormats[format].save(net, path, o);
}
