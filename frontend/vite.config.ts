/**
 * Builds src/main.ts (annotator page), src/pages/projectModel.ts + projectPage.ts (project page) and
 * src/pages/uploadPage.ts (upload page) into ../static/dist/ (served by Django + whitenoise under /static/dist/).
 *
 * Django templates find the hashed bundle names through .vite/manifest.json. onnxruntime-web's
 * wasm runtime is copied next to the bundle (static/dist/ort/) so the browser never loads code
 * from a CDN: the app must work offline and under a strict Content-Security-Policy.
 */
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Plugin } from "vite";
import { defaultClientConditions } from "vite";
import { defineConfig } from "vitest/config";

const frontendDir = dirname(fileURLToPath(import.meta.url));
const outDir = resolve(frontendDir, "../static/dist");

// The plain (CPU, SIMD + threads) wasm backend that `onnxruntime-web/wasm` loads at run time, and
// the WebGPU path: the `onnxruntime-web/webgpu` bundle (imported by absolute URL from the decoder
// worker only when the browser has a real WebGPU adapter: a blob worker cannot import Vite chunks)
// with its asyncify runtime. Browsers without WebGPU never fetch the last three.
const ORT_RUNTIME_FILES = [
  "ort-wasm-simd-threaded.mjs",
  "ort-wasm-simd-threaded.wasm",
  "ort.webgpu.min.mjs",
  "ort-wasm-simd-threaded.asyncify.mjs",
  "ort-wasm-simd-threaded.asyncify.wasm",
];

function copyOrtRuntime(): Plugin {
  return {
    name: "copy-onnxruntime-web-runtime",
    apply: "build",
    writeBundle() {
      const source = resolve(frontendDir, "node_modules/onnxruntime-web/dist");
      const target = resolve(outDir, "ort");
      mkdirSync(target, { recursive: true });
      for (const name of ORT_RUNTIME_FILES) {
        copyFileSync(resolve(source, name), resolve(target, name));
      }
    },
  };
}

export default defineConfig({
  // URLs inside the bundle (chunks, workers, assets) resolve under Django's STATIC_URL.
  base: "/static/dist/",
  plugins: [copyOrtRuntime()],
  // onnxruntime-web's "extern wasm" build loads ort-wasm-simd-threaded.mjs from ort.env.wasm.wasmPaths
  // (a URL that carries the embedder-policy header) instead of bundling it into the worker: its wasm
  // threads start as workers from that URL, which an isolated page accepts only with that header.
  resolve: { conditions: ["onnxruntime-web-use-extern-wasm", ...defaultClientConditions] },
  build: {
    outDir,
    emptyOutDir: true,
    manifest: true,
    target: "es2022",
    sourcemap: true,
    rolldownOptions: {
      // The annotator page; the project page's Model panel (fine-tuning, versions) and its other
      // cards (DICOM settings, exports, live counts); the upload page.
      input: {
        main: resolve(frontendDir, "src/main.ts"),
        projectModel: resolve(frontendDir, "src/pages/projectModel.ts"),
        projectPage: resolve(frontendDir, "src/pages/projectPage.ts"),
        uploadPage: resolve(frontendDir, "src/pages/uploadPage.ts"),
      },
    },
  },
  worker: { format: "es" },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
