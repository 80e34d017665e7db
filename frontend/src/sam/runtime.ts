/**
 * Where onnxruntime-web finds its wasm runtime: the copy that vite.config.ts places in
 * static/dist/ort/ at build time (never a CDN).
 */
export function ortWasmBaseUrl(staticUrl: string): string {
  const base = staticUrl.endsWith("/") ? staticUrl : `${staticUrl}/`;
  return `${base}dist/ort/`;
}
