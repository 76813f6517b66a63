/**
 * The CPU backend's kernels, chosen as one: a GEMM, the im2col/col2im that feed it and the
 * memory-bound loops (loops.ts). OpenBLAS through the optional addon (with im2col and the loops
 * in C) when it loads, else WebAssembly SIMD (float32; float64 then runs in JS), else blocked JS.
 * chooseGemm(asked) starts from the asked-for one; when it cannot load, the next in that order is
 * taken and `reason` says why, so `ndcnn info` and logs show the truth. NDCNN_GEMM=openblas|wasm|js
 * is read only by defaultGemm(), the choice of a backend made without one (createBackend, the
 * CLI, `cpuBackend()`).
 */
import type { DType } from '../../dtype.js';
import { jsLowering, nativeLowering, type ConvPasses, type Lowering } from './conv.js';
import { gemmJs, type GemmFn } from './gemm.js';
import { loadNativeGemm, type SyrkFn } from './gemm-native.js';
import { loadWasmKernels } from './gemm-wasm.js';
import { jsLoops, nativeLoops, type Loops } from './loops.js';

export type GemmImpl = 'openblas' | 'wasm-simd' | 'js';

interface Loaded {
  gemm: GemmFn;
  lowering: Lowering;
  /** Whole float32 conv passes that replace lowering + GEMM (wasm: im2col inside the module). */
  passes?: ConvPasses;
  /** A Gram matrix's triangle (OpenBLAS); others take the Gram from a whole GEMM. */
  syrk?: SyrkFn;
  loops: Loops;
  /** What runs for float64 data: every path but wasm handles it natively. */
  float64: GemmImpl;
  detail?: string;
}

/** Preference order; each loader throws when its implementation is unavailable. */
const LOADERS: Record<GemmImpl, () => Loaded> = {
  openblas: () => {
    const { gemm, addon } = loadNativeGemm();
    const [lowering, loops] = [nativeLowering(addon), nativeLoops(addon)];
    return { gemm, lowering, loops, syrk: addon.syrk, float64: 'openblas', detail: `${addon.config()}, ${addon.threads()} thread(s); im2col, pooling, bias, ReLU in C` };
  },
  'wasm-simd': () => {
    const { gemm, passes } = loadWasmKernels();
    const detail = 'float32 only, im2col/col2im in wasm; float64 runs in JS';
    return { gemm, lowering: jsLowering, passes, loops: jsLoops, float64: 'js', detail };
  },
  js: () => ({ gemm: gemmJs, lowering: jsLowering, loops: jsLoops, float64: 'js' }),
};
const ORDER: readonly GemmImpl[] = ['openblas', 'wasm-simd', 'js'];

/** The names chooseGemm and NDCNN_GEMM accept, and the implementation each names. */
const NAMES: Record<string, GemmImpl> = { openblas: 'openblas', wasm: 'wasm-simd', 'wasm-simd': 'wasm-simd', js: 'js' };
export const GEMM_NAMES: readonly string[] = Object.keys(NAMES);

export interface GemmInfo {
  impl: GemmImpl;
  float64: GemmImpl;
  /** Why this is not the first choice (or not the one asked for). */
  reason?: string;
  detail?: string;
}

/** What a CPU backend computes with: the GEMM, the lowering and loops that come with it, and what they are. */
export interface GemmChoice {
  gemm: GemmFn;
  lowering: Lowering;
  passes?: ConvPasses;
  syrk?: SyrkFn;
  loops: Loops;
  info: GemmInfo;
}

/** The GemmFn of one implementation; throws with the loader's message when it is unavailable. */
export function loadGemm(impl: GemmImpl): GemmFn {
  return LOADERS[impl]().gemm;
}

function firstMessage(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}

/**
 * The first implementation that loads, starting from `asked` (a GEMM_NAMES entry; default the
 * fastest). `source` names where the request came from in messages (e.g. 'NDCNN_GEMM').
 */
export function chooseGemm(asked?: string, source = 'gemm'): GemmChoice {
  if (asked !== undefined && asked !== '' && !(asked in NAMES)) {
    throw new Error(`${source}=${asked}: expected one of ${GEMM_NAMES.join(', ')}`);
  }
  const start = asked ? ORDER.indexOf(NAMES[asked]) : 0;
  const failures: string[] = [];
  for (const impl of ORDER.slice(start)) {
    try {
      const { gemm, lowering, passes, syrk, loops, float64, detail } = LOADERS[impl]();
      const reasons = asked ? [`${source}=${asked}`, ...failures] : failures;
      const reason = reasons.length > 0 ? reasons.join('; ') : undefined;
      return { gemm, lowering, passes, syrk, loops, info: { impl, float64, reason, detail } };
    } catch (e) {
      failures.push(`${impl} unavailable (${firstMessage(e)})`);
    }
  }
  throw new Error(`no GEMM could load: ${failures.join('; ')}`);
}

let byEnvironment: GemmChoice | undefined;

/** The choice NDCNN_GEMM asks for (else the fastest), made once on first use. */
export function defaultGemm(): GemmChoice {
  byEnvironment ??= chooseGemm(process.env.NDCNN_GEMM, 'NDCNN_GEMM');
  return byEnvironment;
}

/** What defaultGemm() runs, for `ndcnn info` and benchmark reports. */
export function gemmInfo(): GemmInfo {
  return { ...defaultGemm().info };
}

/** One line for backend descriptions: the implementation that runs for `dtype`, and why. */
export function describeGemm(info: GemmInfo, dtype?: DType): string {
  const which = dtype === 'float64' ? info.float64 : info.impl;
  return `gemm ${which}${info.reason ? ` (${info.reason})` : ''}`;
}
