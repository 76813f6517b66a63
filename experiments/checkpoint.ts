/**
 * Checkpoints: everything a run needs to continue exactly where it stopped: the configuration,
 * the parameters, the optimizer's state, the mini-batch iterator's state (its RNG included) and
 * the step counters, and the network's own state (batch norm's running statistics, the dropout
 * step). One file, replaced atomically (atomic.ts), so a kill at any moment leaves
 * the previous complete checkpoint.
 *
 * Layout: a first line "ndcnn-checkpoint VERSION", a second line with the SHA-256 (hex) of the
 * rest, then the body as JSON. The hash turns any truncation or corruption into a clear error
 * instead of a resumed run on garbage. Parameters travel as base64 of their raw little-endian
 * bytes: exact, and a third of the size of decimal JSON.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Network, NetworkState } from '../src/network/index.js';
import type { FloatArray } from '../src/nd/dtype.js';
import type { MiniBatchState } from '../src/optim/index.js';
import { writeFileAtomic } from '../src/io/atomic.js';
import { readConfig, type RunConfig } from './config.js';
import { RunFileError } from './errors.js';

export const CHECKPOINT_FORMAT = 'ndcnn-checkpoint';
/** Version 2 added `network`; version 1 files (networks without state) are still read. */
export const CHECKPOINT_VERSION = 2;

/** Where the run stands: counters, the running epoch loss and how much of metrics.jsonl is its own. */
export interface RunProgress {
  /** Optimizer steps taken. */
  step: number;
  /** Epochs completed. */
  epoch: number;
  /** Σ batch loss and batch count of the epoch in progress (its mean is the epoch's train loss). */
  epochLossSum: number;
  epochSteps: number;
  /** Bytes of metrics.jsonl written up to this checkpoint: a resumed run cuts the file back to it. */
  metricsBytes: number;
  /** Training wall time so far (seconds), for the summary; never part of metrics.jsonl. */
  seconds: number;
}

export interface Checkpoint {
  config: RunConfig;
  params: FloatArray;
  /** Network.state(); null in version 1 files, written before networks had state. */
  network: NetworkState | null;
  optimizer: unknown;
  batches: MiniBatchState;
  /** State of the augmentation's generator (null when the run does not augment). */
  augment: number[] | null;
  progress: RunProgress;
}

export function saveCheckpoint(path: string, ckpt: Checkpoint): void {
  const p = ckpt.params;
  const body = JSON.stringify({
    config: ckpt.config,
    params: {
      dtype: p instanceof Float64Array ? 'float64' : 'float32',
      length: p.length,
      base64: Buffer.from(p.buffer, p.byteOffset, p.byteLength).toString('base64'),
    },
    network: ckpt.network,
    optimizer: ckpt.optimizer,
    batches: ckpt.batches,
    augment: ckpt.augment,
    progress: ckpt.progress,
  });
  writeFileAtomic(path, `${CHECKPOINT_FORMAT} ${CHECKPOINT_VERSION}\n${sha256(body)}\n${body}`);
}

export function loadCheckpoint(path: string): Checkpoint {
  return parseCheckpoint(readFileSync(path), path);
}

/** Parses checkpoint bytes; every way they can be wrong is a RunFileError naming `name`. */
export function parseCheckpoint(bytes: Uint8Array, name: string): Checkpoint {
  const fail = (problem: string) => new RunFileError(name, problem);
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  const first = text.indexOf('\n');
  const head = first < 0 ? text.slice(0, 40) : text.slice(0, first);
  const m = /^ndcnn-checkpoint (\d+)$/.exec(head);
  if (!m) throw fail(`not an ndcnn checkpoint (starts with ${JSON.stringify(head.slice(0, 24))})`);
  const version = Number(m[1]);
  if (version !== 1 && version !== CHECKPOINT_VERSION) {
    throw fail(`checkpoint format version ${m[1]}; this ndcnn reads versions 1 to ${CHECKPOINT_VERSION}`);
  }
  const second = text.indexOf('\n', first + 1);
  if (second < 0) throw fail('truncated checkpoint (no hash line)');
  const hash = text.slice(first + 1, second);
  const body = text.slice(second + 1);
  if (sha256(body) !== hash) throw fail(`checkpoint is damaged or truncated (SHA-256 of its ${body.length} body bytes does not match)`);

  let v: Record<string, unknown>;
  try {
    v = JSON.parse(body);
  } catch (e) {
    throw fail(`checkpoint body is not JSON (${(e as Error).message})`);
  }
  const config = readConfig(v.config, name, (file, problem) => new RunFileError(file, problem));
  return {
    config,
    params: readParams(v.params, fail),
    network: version === 1 ? null : readNetwork(v.network, fail),
    optimizer: v.optimizer,
    batches: readBatches(v.batches, fail),
    augment: readRngState(v.augment, fail),
    progress: readProgress(v.progress, fail),
  };
}

function readParams(v: unknown, fail: (p: string) => Error): FloatArray {
  const p = v as { dtype?: unknown; length?: unknown; base64?: unknown } | null;
  if (!p || (p.dtype !== 'float32' && p.dtype !== 'float64') || typeof p.base64 !== 'string' || !Number.isInteger(p.length)) {
    throw fail('checkpoint params should be {dtype: float32|float64, length, base64}');
  }
  const raw = Buffer.from(p.base64, 'base64');
  const width = p.dtype === 'float64' ? 8 : 4;
  if (raw.length !== (p.length as number) * width) {
    throw fail(`checkpoint params hold ${raw.length} bytes, ${p.length} ${p.dtype} values need ${(p.length as number) * width}`);
  }
  // Copy into an aligned buffer: the decoded Buffer may sit at any byte offset of Node's pool.
  const out = p.dtype === 'float64' ? new Float64Array(p.length as number) : new Float32Array(p.length as number);
  new Uint8Array(out.buffer).set(raw);
  // Training stops at the first non-finite loss, so a saved run never holds NaN/Inf: such a
  // file was altered, and evaluating or resuming it would only blame the learning rate later.
  const bad = out.findIndex((v) => !Number.isFinite(v));
  if (bad >= 0) throw fail(`checkpoint parameter ${bad} of ${out.length} is ${out[bad]}; a network with non-finite parameters cannot be used`);
  return out;
}

function readNetwork(v: unknown, fail: (p: string) => Error): NetworkState {
  const s = v as Partial<NetworkState> | null;
  if (!s || !Number.isInteger(s.step) || !(s.batch === null || Number.isInteger(s.batch)) || typeof s.buffers !== 'object' || s.buffers === null) {
    throw fail('checkpoint network state should be {step, batch, buffers}');
  }
  return s as NetworkState;
}

function readBatches(v: unknown, fail: (p: string) => Error): MiniBatchState {
  const b = v as Partial<MiniBatchState> | null;
  if (!b || !isWords(b.rng) || !isCount(b.epoch) || !isCount(b.cursor)) {
    throw fail('checkpoint batches should be {rng: [4 unsigned 32-bit words], epoch, cursor (integers ≥ 0)}');
  }
  return b as MiniBatchState;
}

const isCount = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
const isWords = (x: unknown): x is number[] => Array.isArray(x) && x.length === 4 && x.every((w) => Number.isInteger(w) && w >= 0 && w < 2 ** 32);

function readRngState(v: unknown, fail: (p: string) => Error): number[] | null {
  if (v === null || v === undefined) return null;
  if (!isWords(v)) {
    throw fail('checkpoint augment state should be null or 4 unsigned 32-bit words');
  }
  return v as number[];
}

function readProgress(v: unknown, fail: (p: string) => Error): RunProgress {
  const p = v as Record<string, unknown> | null;
  const keys: (keyof RunProgress)[] = ['step', 'epoch', 'epochLossSum', 'epochSteps', 'metricsBytes', 'seconds'];
  for (const k of keys) {
    if (!p || typeof p[k] !== 'number' || !Number.isFinite(p[k])) throw fail(`checkpoint progress field '${k}' is missing or not a number`);
  }
  // Counters and a byte offset: a negative or fractional one would cut metrics.jsonl wrongly on resume.
  for (const k of ['step', 'epoch', 'epochSteps', 'metricsBytes'] as const) {
    if (!isCount(p![k])) throw fail(`checkpoint progress field '${k}' should be an integer ≥ 0, got ${p![k]}`);
  }
  if ((p!.seconds as number) < 0) throw fail(`checkpoint progress field 'seconds' should be ≥ 0, got ${p!.seconds}`);
  return p as unknown as RunProgress;
}

function sha256(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

/** Puts a checkpoint's parameters and network state (batch-norm statistics) into a freshly built `net`. */
export function restoreNetwork(net: Network, ckpt: Checkpoint, file: string): void {
  if (ckpt.params.length !== net.paramCount) throw new RunFileError(file, `holds ${ckpt.params.length} parameters, its network has ${net.paramCount}`);
  net.setParams(ckpt.params);
  if (!ckpt.network) return;
  try {
    net.loadState(ckpt.network);
  } catch (e) {
    throw new RunFileError(file, `network state does not fit: ${(e as Error).message.split('\n')[0]}`);
  }
}
