/**
 * Which onnxruntime-web backend the decoder worker uses. WebGPU only pays on a real GPU: a software
 * adapter (SwiftShader, `isFallbackAdapter`) took ~50 s per decoder run here against < 0.1 s on wasm,
 * so it is used only when a test forces it.
 */
export type Backend = "wasm" | "webgpu";

export interface AdapterFacts {
  readonly fallback: boolean;
}

export function chooseBackend(options: { readonly mode: "auto" | "off" | "force"; readonly adapter: AdapterFacts | null }): Backend {
  const { mode, adapter } = options;
  if (mode === "off" || adapter === null) {
    return "wasm";
  }
  return adapter.fallback && mode !== "force" ? "wasm" : "webgpu";
}
