/**
 * ONNX's protobuf messages through protobufjs and the official schema (schema.ts, generated from
 * onnx.proto), as plain objects: 64-bit integers as numbers (dims and attributes are small),
 * bytes as Uint8Array.
 */
import protobuf from 'protobufjs';
import { copyBytes, FormatError } from '../errors.js';
import { onnxSchema } from './schema.js';

const ModelProto = protobuf.Root.fromJSON(onnxSchema).lookupType('onnx.ModelProto');

/** TensorProto.DataType values ndcnn reads or writes. */
export const DataType = { FLOAT: 1, INT64: 7, DOUBLE: 11 } as const;
/** AttributeProto.AttributeType values ndcnn reads or writes. */
export const AttrType = { FLOAT: 1, INT: 2, STRING: 3, INTS: 7 } as const;

export interface OnnxTensor {
  name: string;
  dims: number[];
  data_type: number;
  raw_data?: Uint8Array;
  float_data?: number[];
  double_data?: number[];
  int64_data?: number[];
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

/** A tensor's values as float64, from raw_data (little-endian) or the typed fields. */
export function tensorValues(t: OnnxTensor, source: string): Float64Array {
  const n = (t.dims ?? []).reduce((a, b) => a * b, 1);
  const fail = (p: string) => new FormatError(source, `initializer '${t.name}': ${p}`);
  let out: Float64Array;
  if (t.data_type === DataType.FLOAT || t.data_type === DataType.DOUBLE) {
    const width = t.data_type === DataType.FLOAT ? 4 : 8;
    if (t.raw_data && t.raw_data.length) {
      if (t.raw_data.length !== n * width) throw fail(`dims [${t.dims.join(', ')}] need ${n * width} bytes, raw_data holds ${t.raw_data.length}`);
      const copy = copyBytes(t.raw_data);
      out = Float64Array.from(width === 4 ? new Float32Array(copy.buffer) : new Float64Array(copy.buffer));
    } else {
      out = Float64Array.from((width === 4 ? t.float_data : t.double_data) ?? []);
    }
  } else {
    throw fail(`data type ${t.data_type}; ndcnn reads FLOAT (1) and DOUBLE (11)`);
  }
  if (out.length !== n) throw fail(`dims [${t.dims.join(', ')}] need ${n} values, ${out.length} stored`);
  return out;
}
