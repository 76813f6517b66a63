/**
 * What a network is, in words: `net.summary()` is a table of its layers (the options each was
 * built with, one sample's output shape, parameter shapes and counts) with the totals, and
 * `String(net)` one line. Both read only the specs and the built layers, so a new layer kind is
 * described without code of its own here.
 */
import type { Backend } from '../nd/backend.js';
import { fmt, sizeOf, type Shape } from '../nd/shape.js';
import type { Layer } from './layer.js';
import type { LayerSpec } from './registry.js';

/** What summary and toString read of a Network. */
export interface Described {
  readonly backend: Backend;
  readonly inShape: Shape;
  readonly outShape: Shape;
  readonly paramCount: number;
  readonly layers: readonly Layer[];
  readonly specs: readonly LayerSpec[];
  readonly lossName: string;
}

/** "conv(channels 8, kernel 3, activation relu)": the spec's options in the order they were given. */
export function describeSpec(spec: LayerSpec): string {
  const options = Object.entries(spec)
    .filter(([k, v]) => k !== 'kind' && v !== undefined)
    .map(([k, v]) => `${k} ${value(v)}`);
  return options.length > 0 ? `${spec.kind}(${options.join(', ')})` : spec.kind;
}

function value(v: unknown): string {
  if (Array.isArray(v) && v.every((e) => typeof e === 'number')) return fmt(v);
  // A residual block's body and a parameterised activation read as specs: "leaky-relu(slope 0.2)".
  if (Array.isArray(v)) return `[${v.map(value).join(', ')}]`;
  if (typeof v === 'object' && v !== null && typeof (v as { kind?: unknown }).kind === 'string') return describeSpec(v as LayerSpec);
  return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v);
}

export function summaryTable(net: Described): string {
  const rows = net.layers.map((layer, i) => [
    String(i),
    describeSpec(net.specs[i]),
    fmt(layer.outShape),
    layer.paramShapes.map(fmt).join(' + ') || '-',
    count(layer.paramShapes.reduce((a, s) => a + sizeOf(s), 0)),
  ]);
  const head = ['#', 'layer', 'output shape', 'parameter shapes', 'parameters'];
  const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c].length)));
  // Numbers right-aligned, text left-aligned.
  const line = (r: string[]) =>
    r.map((cell, c) => (c === 0 || c === 4 ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd();
  const rule = '-'.repeat(widths.reduce((a, w) => a + w, 0) + 2 * (widths.length - 1));
  const bytes = net.paramCount * (net.backend.dtype === 'float64' ? 8 : 4);
  return [
    `Network ${fmt(net.inShape)} → ${fmt(net.outShape)}, ${net.lossName} loss, ${net.backend.dtype}`,
    `backend: ${net.backend.describe()}`,
    rule,
    line(head),
    rule,
    ...rows.map(line),
    rule,
    `${count(net.paramCount)} parameters (${kib(bytes)} as ${net.backend.dtype}) in ${net.layers.length} layers`,
  ].join('\n');
}

export function oneLine(net: Described): string {
  const kinds = net.specs.map((s) => ('fn' in s ? String(s.fn) : s.kind)).join(' → ');
  return `Network(${fmt(net.inShape)} → ${kinds} → ${fmt(net.outShape)}; ${count(net.paramCount)} ${net.backend.dtype} parameters on ${net.backend.name})`;
}

/** 13610 → "13,610" whatever the locale, so output is the same on every machine. */
function count(n: number): string {
  return String(n).replace(/\B(?=(\d{3})+$)/g, ',');
}

function kib(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : bytes < 1024 ** 2 ? `${(bytes / 1024).toFixed(1)} KiB` : `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
}
