/** `ndcnn export RUN --format safetensors|onnx|npz`: a trained run's network in a format other tools read. */
import { join, dirname } from 'node:path';
import { statSync } from 'node:fs';
import { exportFormats, exportNetwork, isExportFormat } from '../src/io/index.js';
import { Network } from '../src/network/index.js';
import { cpuBackend } from '../src/nd/backends/cpu/index.js';
import { restoreNetwork } from './checkpoint.js';
import { UsageError } from './errors.js';
import { fromConfig, loadRunCheckpoint } from './resolve.js';
import type { Io } from './train.js';

export interface ExportFlags {
  run: string;
  format: string;
  out?: string;
  softmax?: boolean;
}

export function exportRun(f: ExportFlags, io: Io): void {
  if (!isExportFormat(f.format)) throw new UsageError(`--format ${f.format}: unknown format (known: ${Object.keys(exportFormats).join(', ')})`);
  if (f.softmax && f.format !== 'onnx') throw new UsageError('--softmax applies to --format onnx only');
  const { file, ckpt } = loadRunCheckpoint(f.run);
  const { config } = ckpt;
  // The CPU backend in the checkpoint's dtype: exporting computes nothing, whatever backend trained.
  const dtype = ckpt.params instanceof Float64Array ? 'float64' : 'float32';
  const net = fromConfig(file, () => new Network(cpuBackend(dtype), config.inShape, config.network, { loss: config.loss }));
  // Batch norm's running statistics are part of the model that leaves (evaluation uses them).
  restoreNetwork(net, ckpt, file);
  const dir = statSync(f.run).isDirectory() ? f.run : dirname(f.run);
  const out = f.out ?? join(dir, `model.${exportFormats[f.format].extension}`);
  exportNetwork(net, f.format, out, { softmax: f.softmax });
  io.out(`${out}: ${config.experiment} ${config.dataset} network, ${net.paramCount} parameters, epoch ${ckpt.progress.epoch}, as ${f.format}\n`);
}
