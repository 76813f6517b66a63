/**
 * ONNX import of chain-shaped CNNs (what torch.onnx.export writes for an nn.Sequential of the
 * supported modules): Conv, MaxPool, AveragePool, GlobalAveragePool + Flatten, Flatten, Gemm,
 * BatchNormalization (inference), Relu/Sigmoid/Tanh/Identity/LeakyRelu/Softplus and a final
 * Softmax. Each node must read the previous node's output; an activation right after a Conv or
 * Gemm is fused into it (same PyTorch names either way). The first node ndcnn cannot represent
 * is named in the error, with its operator and the reason.
 */
import { readFileSync } from 'node:fs';
import { activation, avgPool, batchNorm, conv, dense, flatten, globalAvgPool, LimitError, maxPool, type LayerSpec, type NetworkLimits, type StateDict } from '../../layers/index.js';
import { Network } from '../../network/index.js';
import type { ActivationFn, ActivationKind, Backend } from '../../nd/backend.js';
import { cpuBackend } from '../../nd/backends/cpu/index.js';
import type { DType, FloatArray } from '../../nd/dtype.js';
import { fmt, sameShape } from '../../nd/shape.js';
import { FormatError } from '../errors.js';
import { buildFromFile } from '../model.js';
import { ONNX_ACTIVATIONS } from './export.js';
import { AttrType, decodeModel, tensorValues, type OnnxGraph, type OnnxNode, type OnnxTensor } from './proto.js';

export interface OnnxImportOptions {
  /** Backend of the network (default: the CPU backend in `dtype`). */
  backend?: Backend;
  /** Default float32, the file's precision; float64 for derivation-grade curvature studies. */
  dtype?: DType;
  /** Size limits of the network (NetworkOptions.limits); its parameters are also bounded by the values the initializers hold. */
  limits?: Partial<NetworkLimits>;
}

export interface OnnxImport {
  network: Network;
  /** The graph ended in Softmax: the network computes the logits before it (its loss applies softmax). */
  softmax: boolean;
}

const ACTIVATION_OF = Object.fromEntries(Object.entries(ONNX_ACTIVATIONS).map(([k, v]) => [v, k as ActivationKind]));

interface State {
  specs: LayerSpec[];
  params: { shape: number[]; values: FloatArray }[];
  /** The previous node was a Conv or Gemm whose activation is still identity (fusable). */
  fusable: boolean;
  /** Running means and variances of the batch norms, in order (set as the network's buffers). */
  stats: FloatArray[];
  /** The previous node was a GlobalAveragePool, whose Flatten is part of ndcnn's globalAvgPool. */
  flattenNext: boolean;
  /** Names the file in errors. */
  source: string;
}

/** Window, stride and symmetric padding of an ONNX pooling node, in floor mode without dilation. */
function poolOptions(a: Attributes): { window: number[]; stride: number[] | number; padding: number[] } {
  a.require('auto_pad', (v) => v === 'NOTSET' || v === 'VALID', 'only explicit pads');
  a.require('ceil_mode', (v) => v === 0, 'ndcnn pools in floor mode');
  a.require('dilations', (v) => (v as number[]).every((p) => p === 1), 'dilated pooling');
  const window = a.ints('kernel_shape');
  if (!window) throw new Error('it has no kernel_shape');
  const pads = a.ints('pads') ?? new Array<number>(2 * window.length).fill(0);
  const begin = pads.slice(0, window.length);
  if (!sameShape(begin, pads.slice(window.length))) throw new Error(`pads ${fmt(pads)} are asymmetric; ndcnn pads both ends of an axis alike`);
  // ONNX's strides default to 1, ndcnn's to the window: always pass them explicitly.
  return { window, stride: a.ints('strides') ?? 1, padding: begin };
}

type Importer = (node: OnnxNode, s: State, attr: Attributes, init: (i: number) => OnnxTensor | undefined) => void;

class Attributes {
  constructor(
    private readonly node: OnnxNode,
    private readonly fail: (problem: string) => Error,
  ) {}

  float(name: string, fallback: number): number {
    return this.node.attribute?.find((a) => a.name === name)?.f ?? fallback;
  }
  int(name: string, fallback: number): number {
    return this.node.attribute?.find((a) => a.name === name)?.i ?? fallback;
  }
  ints(name: string): number[] | undefined {
    return this.node.attribute?.find((a) => a.name === name)?.ints;
  }
  /** Throws unless the attribute is absent or `ok`. */
  require(name: string, ok: (v: unknown) => boolean, what: string): void {
    const a = this.node.attribute?.find((x) => x.name === name);
    if (!a) return;
    const v = a.type === AttrType.INTS ? a.ints : a.type === AttrType.INT ? a.i : a.type === AttrType.FLOAT ? a.f : a.s && new TextDecoder().decode(a.s);
    if (!ok(v)) throw this.fail(`${name}=${JSON.stringify(v)} is not supported (${what})`);
  }
}

const importers: Record<string, Importer> = {
  Conv: (node, s, a, init) => {
    const w = init(1);
    if (!w) throw new Error('its weight is not an initializer');
    const b = init(2);
    a.require('group', (v) => v === 1, 'grouped convolution');
    a.require('auto_pad', (v) => v === 'NOTSET' || v === 'VALID', 'only explicit pads');
    const rank = w.dims.length - 2;
    const pads = a.ints('pads') ?? new Array<number>(2 * rank).fill(0);
    const begin = pads.slice(0, rank);
    if (!sameShape(begin, pads.slice(rank))) throw new Error(`pads ${fmt(pads)} are asymmetric; ndcnn pads both ends of an axis alike`);
    const kernel = a.ints('kernel_shape') ?? w.dims.slice(2);
    s.specs.push(conv({ channels: w.dims[0], kernel, stride: a.ints('strides') ?? 1, padding: begin, dilation: a.ints('dilations') ?? 1, bias: !!b }));
    pushParams(s, [w, b]);
    s.fusable = true;
  },
  Gemm: (node, s, a, init) => {
    const w = init(1);
    if (!w) throw new Error('its B input is not an initializer');
    const c = init(2);
    a.require('transA', (v) => v === 0, 'transposed input');
    a.require('alpha', (v) => v === 1, 'scaled product');
    a.require('beta', (v) => v === 1, 'scaled bias');
    let values = tensorValues(w, s.source);
    let dims = w.dims;
    if (a.int('transB', 0) === 0) {
      // B is [in, out]; ndcnn (and PyTorch) keep W as [out, in].
      const [n, m] = dims;
      const t = values instanceof Float32Array ? new Float32Array(n * m) : new Float64Array(n * m);
      for (let i = 0; i < n; i++) for (let j = 0; j < m; j++) t[j * n + i] = values[i * m + j];
      values = t;
      dims = [m, n];
    }
    if (c && c.dims.reduce((x, y) => x * y, 1) !== dims[0]) throw new Error(`its bias C of dims ${fmt(c.dims)} is not one value per output (${dims[0]})`);
    s.specs.push(dense({ units: dims[0], bias: !!c }));
    s.params.push({ shape: dims, values });
    if (c) s.params.push({ shape: [dims[0]], values: tensorValues(c, s.source) });
    s.fusable = true;
  },
  // ndcnn's batch norm in evaluation mode is ONNX's inference BatchNormalization.
  BatchNormalization: (node, s, a, init) => {
    const t = [1, 2, 3, 4].map(init);
    if (t.some((x) => !x)) throw new Error('its scale, bias, mean and variance are not all initializers');
    if (node.output.length > 1 && node.output.slice(1).some((o) => o)) throw new Error('it computes training-mode outputs');
    a.require('training_mode', (v) => v === 0, 'training mode');
    // float32 attributes: 1e-5 arrives as 9.99999975e-6; seven digits give back the value written.
    const f32 = (v: number) => Number(v.toPrecision(7));
    s.specs.push(batchNorm({ eps: f32(a.float('epsilon', 1e-5)), momentum: f32(1 - a.float('momentum', 0.9)) }));
    pushParams(s, t.slice(0, 2));
    s.stats.push(...t.slice(2).map((x) => tensorValues(x!, s.source)));
    s.fusable = false;
  },
  MaxPool: (node, s, a) => {
    if (node.output.length > 1 && node.output[1]) throw new Error('its Indices output is used');
    const { padding, ...o } = poolOptions(a);
    if (padding.some((p) => p !== 0)) throw new Error(`pads ${fmt(padding)}: ndcnn's max-pooling does not pad`);
    s.specs.push(maxPool(o));
    s.fusable = false;
  },
  AveragePool: (node, s, a) => {
    s.specs.push(avgPool({ ...poolOptions(a), countIncludePad: a.int('count_include_pad', 0) === 1 }));
    s.fusable = false;
  },
  // ndcnn's global pool outputs [C]: it stands for GlobalAveragePool and the Flatten that must follow.
  GlobalAveragePool: (node, s) => {
    s.specs.push(globalAvgPool());
    s.fusable = false;
    s.flattenNext = true;
  },
  Flatten: (node, s, a) => {
    a.require('axis', (v) => v === 1, 'ndcnn flattens all but the batch axis');
    if (s.flattenNext) s.flattenNext = false;
    else s.specs.push(flatten());
    s.fusable = false;
  },
};
for (const [op, kind] of Object.entries(ACTIVATION_OF)) {
  importers[op] = (node, s, a) => {
    const fn: ActivationFn = kind === 'leaky-relu' ? { kind, slope: a.float('alpha', 0.01) } : kind;
    const last = s.specs[s.specs.length - 1];
    // An Identity stays a layer of its own: fused it would vanish and shift the module slots.
    if (s.fusable && kind !== 'identity' && (last.kind === 'conv' || last.kind === 'dense')) last.activation = fn;
    else s.specs.push(activation(fn));
    s.fusable = false;
  };
}

function pushParams(s: State, tensors: (OnnxTensor | undefined)[]): void {
  for (const t of tensors) if (t) s.params.push({ shape: t.dims, values: tensorValues(t, s.source) });
}

/**
 * The structure onnx.checker requires of any graph, checked before its nodes are read as layers
 * (a chain-shaped import would otherwise accept, say, a node that overwrites the graph's input):
 * unique graph inputs and initializers, each node reading only names defined before it
 * (topological order), each name written once (static single assignment), outputs defined.
 */
function checkGraph(g: OnnxGraph, fail: (problem: string) => Error): void {
  const defined = new Map<string, string>();
  for (const v of g.input) {
    if (defined.has(v.name)) throw fail(`graph input '${v.name}' is listed twice`);
    defined.set(v.name, 'a graph input');
  }
  const inits = new Set<string>();
  for (const t of g.initializer ?? []) {
    if (inits.has(t.name)) throw fail(`initializer '${t.name}' is defined twice`);
    inits.add(t.name);
    // An initializer may also be listed as a graph input (its overridable default).
    if (!defined.has(t.name)) defined.set(t.name, 'an initializer');
  }
  g.node.forEach((node, i) => {
    const where = `node '${node.name || `#${i}`}' (${node.op_type})`;
    for (const x of node.input) {
      if (x && !defined.has(x)) throw fail(`${where} reads '${x}', which no graph input, initializer or earlier node defines (nodes must be in topological order)`);
    }
    for (const y of node.output) {
      if (!y) continue;
      const owner = defined.get(y);
      if (owner) throw fail(`${where} writes '${y}', which is already ${owner}; each name is assigned once (SSA)`);
      defined.set(y, `the output of ${where}`);
    }
  });
  for (const v of g.output) if (!defined.has(v.name)) throw fail(`graph output '${v.name}' is computed by no node`);
}

/** Builds the network an ONNX model (bytes or a path) describes, with its parameters. */
export function networkFromOnnx(file: Uint8Array | string, o: OnnxImportOptions = {}): OnnxImport {
  const source = typeof file === 'string' ? file : 'onnx bytes';
  const fail = (problem: string) => new FormatError(source, problem);
  const model = decodeModel(typeof file === 'string' ? readFileSync(file) : file, source);
  const g = model.graph;
  const opset = model.opset_import?.find((x) => !x.domain || x.domain === 'ai.onnx');
  if (!opset) throw fail('the model imports no version of the default ONNX operator set');
  checkGraph(g, fail);
  const inits = new Map((g.initializer ?? []).map((t) => [t.name, t]));
  const inputs = g.input.filter((v) => !inits.has(v.name));
  if (inputs.length !== 1) throw fail(`ndcnn imports graphs with one input, this one has ${inputs.length} (${inputs.map((v) => v.name).join(', ')})`);
  const dims = inputs[0].type?.tensor_type?.shape?.dim ?? [];
  const inShape = dims.slice(1).map((d) => d.dim_value ?? 0);
  if (dims.length < 2 || !inShape.every((d) => d > 0)) {
    throw fail(`input '${inputs[0].name}' should be [batch, ...sizes] with fixed sizes, got [${dims.map((d) => d.dim_value ?? d.dim_param ?? '?').join(', ')}]`);
  }
  const s: State = { specs: [], params: [], stats: [], fusable: false, flattenNext: false, source };
  let cur = inputs[0].name;
  let softmax = false;
  g.node.forEach((node, i) => {
    const where = `node '${node.name || `#${i}`}' (${node.op_type})`;
    const nodeFail = (problem: string) => fail(`${where}: ${problem}`);
    if (node.domain && node.domain !== 'ai.onnx') throw nodeFail(`operator domain '${node.domain}' is not supported`);
    if (softmax) throw nodeFail('follows the Softmax; ndcnn imports Softmax only as the last node');
    if (node.input[0] !== cur) throw nodeFail(`reads '${node.input[0]}', not the previous output '${cur}'; ndcnn imports chains of layers`);
    if (s.flattenNext && node.op_type !== 'Flatten') throw nodeFail('follows a GlobalAveragePool; ndcnn imports GlobalAveragePool followed by Flatten');
    if (node.op_type === 'Softmax') {
      const a = new Attributes(node, nodeFail);
      a.require('axis', (v) => v === 1 || v === -1, 'softmax over the classes');
      softmax = true;
    } else {
      const importer = Object.prototype.hasOwnProperty.call(importers, node.op_type) ? importers[node.op_type] : undefined;
      if (!importer) throw nodeFail(`operator ${node.op_type} is not supported; ndcnn imports ${[...Object.keys(importers), 'Softmax'].join(', ')}`);
      try {
        importer(node, s, new Attributes(node, nodeFail), (k) => (node.input[k] ? inits.get(node.input[k]) : undefined));
      } catch (e) {
        throw e instanceof FormatError ? e : nodeFail((e as Error).message);
      }
    }
    cur = node.output[0];
  });
  if (g.output.length !== 1 || g.output[0].name !== cur) throw fail(`the graph's output should be the last node's output '${cur}'`);
  if (!s.specs.length) throw fail('the graph has no layers');
  const stored = s.params.reduce((n, p) => n + p.values.length, 0);
  const build = (limits: Partial<NetworkLimits>) => {
    try {
      return new Network(o.backend ?? cpuBackend(o.dtype ?? 'float32'), inShape, s.specs, { limits });
    } catch (e) {
      throw e instanceof LimitError ? e : fail(`its layers do not fit together: ${(e as Error).message}`);
    }
  };
  // The values go in as a state dict, so they are checked as any file's are (finite, variances ≥ 0).
  const network = buildFromFile(source, stored, o.limits, build, (net) => {
    const dict: StateDict = Object.create(null);
    net.namedParameters().forEach((p, k) => (dict[p.name] = { shape: s.params[k].shape, data: s.params[k].values }));
    let k = 0;
    for (const b of net.namedBuffers()) dict[b.name] = { shape: [...b.shape], data: b.integer ? b.data : s.stats[k++] };
    net.loadStateDict(dict);
  });
  return { network, softmax };
}
