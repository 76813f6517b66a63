/** Files esbuild bundles as bytes (build.ts: loader binary). */
declare module '*.wasm' {
  const bytes: Uint8Array<ArrayBuffer>;
  export default bytes;
}
