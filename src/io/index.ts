/** Saving, loading and exchanging networks: architecture JSON, safetensors, .npy/.npz, ONNX. */
export { architectureOf, buildArchitecture, readArchitecture, ARCHITECTURE_FORMAT, type Architecture } from './architecture.js';
export { writeFileAtomic } from './atomic.js';
export { FormatError } from './errors.js';
export { exportFormats, exportNetwork, isExportFormat, type ExportFormat, type ExportOptions } from './export.js';
export { loadNetwork, networkToNpz, networkToSafetensors, readSafetensors, saveNpz, saveSafetensors, ARCHITECTURE_KEY, type LoadOptions, type SaveOptions } from './model.js';
export { decodeNpy, decodeNpz, encodeNpy, encodeNpz, type ArrayToWrite, type NpyArray } from './npy.js';
export { networkToOnnx, saveOnnx, type OnnxExportOptions } from './onnx/export.js';
export { networkFromOnnx, type OnnxImport, type OnnxImportOptions } from './onnx/import.js';
export { decodeSafetensors, encodeSafetensors, MAX_HEADER_BYTES, type Safetensors, type SafetensorsTensor, type TensorToWrite } from './safetensors.js';
