/**
 * ONNX's protobuf messages through protobufjs and the official schema (schema.ts, generated from
 * onnx.proto), as plain objects: 64-bit integers as numbers (dims and attributes are small),
 * bytes as Uint8Array.
 */
import protobuf from 'protobufjs';
import type { FloatArray } from '../../nd/dtype.js';
import { FormatError } from '../errors.js';
import { onnxSchema } from './schema.js';

const root = protobuf.Root.fromJSON(onnxSchema);
// float_data and double_data are packed repeated fields: one length-delimited run of
// little-endian values on the wire. Decoded as declared, protobufjs grows a JS array of them and
// toObject copies it, 12× the file's bytes at peak for a float_data model (measured). Declared as
// what they are on the wire, repeated bytes, each run is a view of the file, and tensorValues
// decodes it straight into its output. (The unpacked form, one tag per value, which no ONNX
// writer emits, is then skipped as an unknown field: such a tensor holds too few values and is
// refused.)
const TensorProto = root.lookupType('onnx.TensorProto');
for (const name of ['float_data', 'double_data']) {
  const field = TensorProto.fields[name];
  TensorProto.remove(field);
  TensorProto.add(new protobuf.Field(name, field.id, 'bytes', 'repeated'));
}
const ModelProto = root.lookupType('onnx.ModelProto');

/** TensorProto.DataType values ndcnn reads or writes. */
export const DataType = { FLOAT: 1, INT64: 7, DOUBLE: 11 } as const;
/** AttributeProto.AttributeType values ndcnn reads or writes. */
export const AttrType = { FLOAT: 1, INT: 2, STRING: 3, INTS: 7 } as const;

export interface OnnxTensor {
  name: string;
  dims: number[];
  data_type: number;
  raw_data?: Uint8Array;
  /** Runs of packed little-endian float32 values (see above). */
  float_data?: Uint8Array[];
  /** Runs of packed little-endian float64 values. */
  double_data?: Uint8Array[];
  int32_data?: number[];
  int64_data?: number[];
  string_data?: Uint8Array[];
  uint64_data?: number[];
  /** 1 (EXTERNAL): the values live in another file. */
  data_location?: number;
}

export interface OnnxAttribute {
  name: string;
  type: number;
  i?: number;
  f?: number;
  s?: Uint8Array;
  ints?: number[];
}

export interface OnnxNode {
  name?: string;
  op_type: string;
  domain?: string;
  input: string[];
  output: string[];
  attribute?: OnnxAttribute[];
}

export interface OnnxDim {
  dim_value?: number;
  dim_param?: string;
}

export interface OnnxValueInfo {
  name: string;
  type?: { tensor_type?: { elem_type?: number; shape?: { dim?: OnnxDim[] } } };
}

export interface OnnxGraph {
  name: string;
  node: OnnxNode[];
  initializer?: OnnxTensor[];
  input: OnnxValueInfo[];
  output: OnnxValueInfo[];
}

export interface OnnxModel {
  ir_version: number;
  opset_import: { domain?: string; version: number }[];
  producer_name?: string;
  producer_version?: string;
  graph: OnnxGraph;
  metadata_props?: { key: string; value: string }[];
}

export function encodeModel(m: OnnxModel): Uint8Array {
  const problem = ModelProto.verify(m);
  if (problem) throw new FormatError('onnx', `cannot encode the model: ${problem}`);
  return ModelProto.encode(ModelProto.fromObject(m)).finish();
}

export function decodeModel(bytes: Uint8Array, source: string): OnnxModel {
  let m: OnnxModel;
  try {
    m = ModelProto.toObject(ModelProto.decode(bytes), { longs: Number, arrays: true }) as OnnxModel;
  } catch (e) {
    throw new FormatError(source, `not an ONNX model (protobuf: ${(e as Error).message})`);
  }
  if (!m.graph) throw new FormatError(source, 'not an ONNX model (no graph)');
  return m;
}

/** The value fields of a TensorProto; onnx.checker requires exactly one in use (none for an empty tensor). */
const VALUE_FIELDS = ['raw_data', 'float_data', 'double_data', 'int32_data', 'int64_data', 'string_data', 'uint64_data'] as const;

/**
 * A tensor's values in its own type (FLOAT as Float32Array, DOUBLE as Float64Array: a float32
 * model's values are not doubled in memory on the way in), from raw_data or float_data/double_data
 * (little-endian either way).
 */
export function tensorValues(t: OnnxTensor, source: string): FloatArray {
  const dims = t.dims ?? [];
  const n = dims.reduce((a, b) => a * b, 1);
  const fail = (p: string) => new FormatError(source, `initializer '${t.name}': ${p}`);
  if (t.data_type !== DataType.FLOAT && t.data_type !== DataType.DOUBLE) throw fail(`data type ${t.data_type}; ndcnn reads FLOAT (1) and DOUBLE (11)`);
  if (!dims.every((d) => Number.isSafeInteger(d) && d >= 0)) throw fail(`dims [${dims.join(', ')}] are not sizes`);
  if (t.data_location === 1) throw fail('its values are in an external file (external_data), which ndcnn does not read; save the model with its data inline');
  const used = VALUE_FIELDS.filter((f) => (t[f]?.length ?? 0) > 0);
  if (used.length > 1) throw fail(`its values are in both ${used.join(' and ')}; a tensor keeps them in one field`);
  const [width, own] = t.data_type === DataType.FLOAT ? [4, 'float_data'] : [8, 'double_data'];
  if (used.length && used[0] !== 'raw_data' && used[0] !== own) throw fail(`a ${width === 4 ? 'FLOAT' : 'DOUBLE'} tensor keeps its values in raw_data or ${own}, not ${used[0]}`);
  const runs = t.raw_data?.length ? [t.raw_data] : ((width === 4 ? t.float_data : t.double_data) ?? []);
  const bytes = runs.reduce((k, r) => k + r.length, 0);
  if (bytes !== n * width) {
    const held = bytes % width === 0 ? `${bytes / width} values` : `${bytes} bytes, not a whole number of ${width}-byte values`;
    throw fail(`dims [${dims.join(', ')}] need ${n} values, ${used[0] ?? 'the tensor'} holds ${held}`);
  }
  // Read through DataViews: the runs are views of the file at any byte offset, so no aligned copy is needed.
  const out = width === 4 ? new Float32Array(n) : new Float64Array(n);
  let k = 0;
  for (const r of runs) {
    const v = new DataView(r.buffer, r.byteOffset, r.byteLength);
    if (width === 4) for (let i = 0; i < r.length; i += 4) out[k++] = v.getFloat32(i, true);
    else for (let i = 0; i < r.length; i += 8) out[k++] = v.getFloat64(i, true);
  }
  return out;
}
