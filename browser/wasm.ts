/**
 * Puts the CPU backend's WebAssembly SIMD kernels (asm/build/gemm.wasm: the GEMM and the
 * im2col/col2im lowering) into a bundle: a page has no file to read them from. Imported for its
 * effect, before any CPU backend is made, by every bundle that makes one.
 */
/// <reference path="./assets.d.ts" />
import gemm from '../asm/build/gemm.wasm';
import { provideWasm } from '../src/nd/backends/cpu/gemm-wasm.js';

provideWasm(gemm);
