/**
 * Chooses the CPU backend's GEMM once, at load time: OpenBLAS through the optional addon when
 * it loads, else WebAssembly SIMD (float32; float64 then runs in JS), else blocked JS.
 * NDCNN_GEMM=openblas|wasm|js asks for one; when the asked-for one cannot load, the next in
 * that order is taken and gemmInfo().reason says why, so `ndcnn info` and logs show the truth.
 */
import type { DType } from '../../dtype.js';
import { gemmJs, type GemmFn } from './gemm.js';
import { loadNativeGemm, type NativeLowering } from './gemm-native.js';
import { loadWasmGemm } from './gemm-wasm.js';

export type GemmImpl = 'openblas' | 'wasm-simd' | 'js';

interface Loaded {
  gemm: GemmFn;
  /** What runs for float64 data: every path but wasm handles it natively. */
  float64: GemmImpl;
  detail?: string;
  /** im2col/col2im in C, shipped with the OpenBLAS addon. */
  lowering?: NativeLowering;
}

/** Preference order; each loader throws when its implementation is unavailable. */
const LOADERS: Record<GemmImpl, () => Loaded> = {
  openblas: () => {
    const { gemm, addon } = loadNativeGemm();
    const lowering = { im2col: addon.im2col, col2im: addon.col2im };
    return { gemm, float64: 'openblas', detail: `${addon.config()}, ${addon.threads()} thread(s); im2col in C`, lowering };
  },
  'wasm-simd': () => ({ gemm: loadWasmGemm(), float64: 'js', detail: 'float32 only; float64 runs in JS' }),
  js: () => ({ gemm: gemmJs, float64: 'js' }),
};
const ORDER: readonly GemmImpl[] = ['openblas', 'wasm-simd', 'js'];

/** The values NDCNN_GEMM accepts, and the implementation each names. */
const ENV_NAMES: Record<string, GemmImpl> = { openblas: 'openblas', wasm: 'wasm-simd', 'wasm-simd': 'wasm-simd', js: 'js' };

export interface GemmInfo {
  impl: GemmImpl;
  float64: GemmImpl;
  /** Why this is not the first choice (or not the one NDCNN_GEMM asked for). */
  reason?: string;
  detail?: string;
}

/** The GemmFn of one implementation; throws with the loader's message when it is unavailable. */
export function loadGemm(impl: GemmImpl): GemmFn {
  return LOADERS[impl]().gemm;
}

function firstMessage(e: unknown): string {
  return (e instanceof Error ? e.message : String(e)).split('\n')[0];
}

function select(): { loaded: Loaded; info: GemmInfo } {
  const asked = process.env.NDCNN_GEMM;
  if (asked !== undefined && asked !== '' && !(asked in ENV_NAMES)) {
    throw new Error(`NDCNN_GEMM=${asked}: expected one of ${Object.keys(ENV_NAMES).join(', ')}`);
  }
  const start = asked ? ORDER.indexOf(ENV_NAMES[asked]) : 0;
  const failures: string[] = [];
  for (const impl of ORDER.slice(start)) {
    try {
      const loaded = LOADERS[impl]();
      const reasons = asked ? [`NDCNN_GEMM=${asked}`, ...failures] : failures;
      const reason = reasons.length > 0 ? reasons.join('; ') : undefined;
      return { loaded, info: { impl, float64: loaded.float64, reason, detail: loaded.detail } };
    } catch (e) {
      failures.push(`${impl} unavailable (${firstMessage(e)})`);
    }
  }
  throw new Error(`no GEMM could load: ${failures.join('; ')}`);
}

const chosen = select();

/** The GEMM the CPU backend uses by default. */
export const gemm: GemmFn = chosen.loaded.gemm;

/** The C im2col/col2im when the OpenBLAS path was chosen; undefined means the JS lowering runs. */
export const nativeLowering: NativeLowering | undefined = chosen.loaded.lowering;

export function gemmInfo(): GemmInfo {
  return { ...chosen.info };
}

/** One line for `ndcnn info` and backend descriptions. */
export function describeGemm(dtype?: DType): string {
  const { impl, float64, reason } = chosen.info;
  const which = dtype === 'float64' ? float64 : impl;
  return `gemm ${which}${reason ? ` (${reason})` : ''}`;
}
