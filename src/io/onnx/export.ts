/**
 * ONNX export of an ndcnn network (opset 13, float32): Conv (1-, 2-, 3-D, strides, symmetric
 * pads, dilations), MaxPool and AveragePool (with pads), GlobalAveragePool + Flatten, Flatten,
 * Gemm, BatchNormalization (running statistics, as ndcnn evaluates), dropout (nothing, as at
 * inference), residual blocks (body, optional 1×1 projection, Add), the activations (gelu-tanh
 * composed from Mul/Add/Tanh), and optionally a final Softmax. Initializers carry the PyTorch names
 * (`0.weight`, `3.body.0.weight`), nodes torch-style scoped names (`/0/Conv`), so an exported
 * graph reads like torch.onnx.export's of the equivalent nn.Sequential. The batch axis is
 * symbolic ("batch"). Parameters are stored as float32 (onnxruntime's Conv is float32 only), so
 * a float32 network round-trips exactly and a float64 one is rounded.
 */
import { paramNamesOf, slotPrefixes, type Conv, type Layer, type LayerSpec, type Residual } from '../../layers/index.js';
import { type Network } from '../../network/index.js';
import { activationParts, type ActivationFn } from '../../nd/backend.js';
import { ConvGeometry, PoolGeometry } from '../../nd/geometry.js';
import { writeFileAtomic } from '../atomic.js';
import { FormatError } from '../errors.js';
import { AttrType, DataType, encodeModel, type OnnxAttribute, type OnnxNode, type OnnxTensor } from './proto.js';

export const OPSET = 13;
/** ONNX IR version 7 goes with opset 13 (onnx/docs/Versioning.md). */
const IR_VERSION = 7;

export interface OnnxExportOptions {
  /** End the graph with Softmax over the classes, so it outputs probabilities (default false: logits). */
  softmax?: boolean;
}

/** ONNX operators of the activations with one in opset 13 (gelu-tanh is composed in geluTanh). */
export const ONNX_ACTIVATIONS: Readonly<Record<string, string>> = {
  identity: 'Identity',
  relu: 'Relu',
  sigmoid: 'Sigmoid',
  tanh: 'Tanh',
  'leaky-relu': 'LeakyRelu',
  softplus: 'Softplus',
};

function activationNode(g: Graph, fn: ActivationFn, scope: string, layer: string): void {
  const { kind, slope } = activationParts(fn);
  if (kind === 'gelu-tanh') return geluTanh(g, scope);
  const op = Object.prototype.hasOwnProperty.call(ONNX_ACTIVATIONS, kind) ? ONNX_ACTIVATIONS[kind] : undefined;
  if (!op) throw new FormatError('onnx export', `layer ${layer}: activation ${JSON.stringify(fn)} has no ONNX exporter`);
  g.node(op, scope, kind === 'leaky-relu' ? [{ name: 'alpha', type: AttrType.FLOAT, f: slope }] : []);
}

/** gelu-tanh(x) = ½·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))) from Mul, Add and Tanh (ONNX's Gelu is opset 20). */
function geluTanh(g: Graph, scope: string): void {
  const x = g.current;
  const c = (name: string, v: number) => g.initializer(`${scope.replace(/\//g, '.')}.gelu_${name}`, [], [v]);
  g.node('Mul', scope, [], [x]);
  g.node('Mul', scope, [], [x]);
  g.node('Mul', scope, [], [c('cubic', 0.044715)]);
  g.node('Add', scope, [], [x]);
  g.node('Mul', scope, [], [c('scale', Math.sqrt(2 / Math.PI))]);
  g.node('Tanh', scope);
  g.node('Add', scope, [], [c('one', 1)]);
  g.node('Mul', scope, [], [x]);
  g.node('Mul', scope, [], [c('half', 0.5)]);
}

/** Builds the node list and initializers while walking the layers. */
class Graph {
  readonly nodes: OnnxNode[] = [];
  readonly initializers: OnnxTensor[] = [];
  private count = 0;

  constructor(public current: string) {}

  /** Appends `op` reading the current tensor (and `extra` inputs); its output becomes current. */
  node(op: string, scope: string, attrs: OnnxAttribute[] = [], extra: string[] = []): void {
    const n = this.count++;
    const output = `/${scope}/${op}_output_${n}`;
    // Node names are unique (onnx.checker requires it): composed activations repeat an operator.
    const name = this.nodes.some((x) => x.name === `/${scope}/${op}`) ? `/${scope}/${op}_${n}` : `/${scope}/${op}`;
    this.nodes.push({ name, op_type: op, input: [this.current, ...extra], output: [output], attribute: attrs });
    this.current = output;
  }

  initializer(name: string, dims: readonly number[], values: ArrayLike<number>): string {
    const data = Float32Array.from(values);
    this.initializers.push({ name, dims: [...dims], data_type: DataType.FLOAT, raw_data: new Uint8Array(data.buffer) });
    return name;
  }
}

const ints = (name: string, v: readonly number[]): OnnxAttribute => ({ name, type: AttrType.INTS, ints: [...v] });
const int = (name: string, v: number): OnnxAttribute => ({ name, type: AttrType.INT, i: v });

interface Context {
  g: Graph;
  layer: Layer;
  /** Torch-style node scope of the module `offset` slots after the layer's first ("3", "3/body/0"). */
  scope: (offset?: number) => string;
  /** The layer's parameters as initializers, by their PyTorch names, in order. */
  params: () => string[];
  /** A network tensor (parameter or buffer) as an initializer, by full name (containers' children). */
  tensor: (name: string) => string;
  /** Exports a sub-sequence (a container's children) under a name prefix such as "3.body.". */
  sequence: (layers: readonly Layer[], specs: readonly LayerSpec[], prefix: string) => void;
}

type Exporter<S extends LayerSpec> = (c: Context, spec: S) => void;
/** Partial: a layer kind without an exporter is refused at export time, naming the layer. */
type Exporters = { [K in LayerSpec['kind']]?: Exporter<Extract<LayerSpec, { kind: K }>> };

/** A fused activation sits in the next module slot, as in the equivalent nn.Sequential. */
function fused(c: Context, fn: ActivationFn | undefined): void {
  if (fn !== undefined && fn !== 'identity') activationNode(c.g, fn, c.scope(1), c.layer.name);
}

const pads = (p: readonly number[]) => ints('pads', [...p, ...p]);

function convNode(c: Context, geo: ConvGeometry, scope: string, inputs: string[]): void {
  const attrs = [ints('kernel_shape', geo.kernel), ints('strides', geo.stride), pads(geo.padding), ints('dilations', geo.dilation), int('group', 1)];
  c.g.node('Conv', scope, attrs, inputs);
}

export const onnxExporters: Exporters = {
  conv: (c, spec) => {
    convNode(c, new ConvGeometry(c.layer.name, c.layer.inShape, spec), c.scope(), c.params());
    fused(c, spec.activation);
  },
  dense: (c, spec) => {
    c.g.node('Gemm', c.scope(), [int('transB', 1)], c.params());
    fused(c, spec.activation);
  },
  maxPool: (c, spec) => {
    const geo = new PoolGeometry(c.layer.name, c.layer.inShape, spec);
    c.g.node('MaxPool', c.scope(), [ints('kernel_shape', geo.window), ints('strides', geo.stride), pads(geo.padding)]);
  },
  avgPool: (c, spec) => {
    const geo = new PoolGeometry(c.layer.name, c.layer.inShape, spec);
    const attrs = [ints('kernel_shape', geo.window), ints('strides', geo.stride), pads(geo.padding), int('count_include_pad', spec.countIncludePad ?? true ? 1 : 0)];
    c.g.node('AveragePool', c.scope(), attrs);
  },
  // [C, ...spatial] → [C]: GlobalAveragePool keeps singleton axes, the Flatten in the next slot drops them.
  globalAvgPool: (c) => {
    c.g.node('GlobalAveragePool', c.scope());
    c.g.node('Flatten', c.scope(1), [int('axis', 1)]);
  },
  flatten: (c) => c.g.node('Flatten', c.scope(), [int('axis', 1)]),
  // Inference: y = γ·(x − running_mean)/√(running_var + ε) + β, ndcnn's evaluation mode.
  batchNorm: (c, spec) => {
    const [gamma, beta] = c.params();
    const path = c.scope().replace(/\//g, '.');
    const stats = [c.tensor(`${path}.running_mean`), c.tensor(`${path}.running_var`)];
    const attrs = [{ name: 'epsilon', type: AttrType.FLOAT, f: spec.eps ?? 1e-5 }, { name: 'momentum', type: AttrType.FLOAT, f: 1 - (spec.momentum ?? 0.1) }];
    c.g.node('BatchNormalization', c.scope(), attrs, [gamma, beta, ...stats]);
  },
  // Inference is the identity: no node, as torch.onnx.export writes for an nn.Dropout in eval mode.
  dropout: () => {},
  activation: (c, spec) => activationNode(c.g, spec.fn, c.scope(), c.layer.name),
  // y = f(x) + P(x): the body as a sub-sequence "N.body.", the skip path's 1×1 convolution "N.projection".
  residual: (c, spec) => {
    const block = c.layer as Residual;
    const x = c.g.current;
    const path = c.scope().replace(/\//g, '.');
    c.sequence(block.body, spec.body, `${path}.body.`);
    const fx = c.g.current;
    let skip = x;
    if (block.projection) {
      c.g.current = x;
      convNode(c, (block.projection as Conv).geometry, `${c.scope()}/projection`, [c.tensor(`${path}.projection.weight`)]);
      skip = c.g.current;
    }
    c.g.current = fx;
    c.g.node('Add', c.scope(), [], [skip]);
  },
};

/** The ONNX model of `net` as bytes (ModelProto). */
export function networkToOnnx(net: Network, o: OnnxExportOptions = {}): Uint8Array {
  const g = new Graph('input');
  const values = new Map<string, { shape: readonly number[]; data: ArrayLike<number> }>();
  for (const p of net.namedParameters()) values.set(p.name, { shape: p.shape, data: net.params.subarray(p.offset, p.offset + p.size) });
  for (const b of net.namedBuffers()) values.set(b.name, { shape: b.shape, data: b.data });
  const tensor = (name: string) => {
    const v = values.get(name);
    if (!v) throw new FormatError('onnx export', `the network has no tensor '${name}'`);
    return g.initializer(name, v.shape, v.data);
  };
  const sequence = (layers: readonly Layer[], specs: readonly LayerSpec[], prefix: string) => {
    const prefixes = slotPrefixes(layers, prefix);
    layers.forEach((layer, i) => {
      const spec = specs[i];
      const exporter = Object.prototype.hasOwnProperty.call(onnxExporters, spec.kind) ? (onnxExporters[spec.kind] as Exporter<LayerSpec>) : undefined;
      if (!exporter) throw new FormatError('onnx export', `layer ${layer.name} (kind '${spec.kind}') has no ONNX exporter (known: ${Object.keys(onnxExporters).join(', ')})`);
      const slot = Number(prefixes[i].slice(prefix.length, -1));
      const scope = (offset = 0) => `${prefix}${slot + offset}`.replace(/\./g, '/');
      const params = () => paramNamesOf(layer).map((n) => tensor(prefixes[i] + n));
      exporter({ g, layer, scope, params, tensor, sequence }, spec);
    });
  };
  sequence(net.layers, net.specs, '');
  if (o.softmax) g.node('Softmax', 'softmax', [int('axis', 1)]);
  if (!g.nodes.length) g.node('Identity', 'output');
  const last = g.nodes[g.nodes.length - 1];
  last.output = ['output'];
  const dims = (shape: readonly number[]) => [{ dim_param: 'batch' }, ...shape.map((d) => ({ dim_value: d }))];
  const value = (name: string, shape: readonly number[]) => ({ name, type: { tensor_type: { elem_type: DataType.FLOAT, shape: { dim: dims(shape) } } } });
  return encodeModel({
    ir_version: IR_VERSION,
    opset_import: [{ domain: '', version: OPSET }],
    producer_name: 'ndcnn',
    graph: { name: 'ndcnn', node: g.nodes, initializer: g.initializers, input: [value('input', net.inShape)], output: [value('output', net.outShape)] },
  });
}

/** Writes the ONNX model of `net` to `path` atomically. */
export function saveOnnx(net: Network, path: string, o: OnnxExportOptions = {}): void {
  writeFileAtomic(path, networkToOnnx(net, o));
}
