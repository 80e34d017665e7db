/**
 * Typed messages between the page and the decoder worker. Every request carries an id; the worker
 * answers with the same id (a result or an error), so concurrent calls never race on one handler.
 */
import type { Prompt } from "./feeds";

export interface InitRequest {
  readonly type: "init";
  readonly id: number;
  readonly modelUrl: string;
  /** URL prefix of ort-wasm-simd-threaded.{mjs,wasm}, served by our app (never a CDN). */
  readonly wasmBase: string;
  readonly threads: number;
  /**
   * The first-click split (manifest "first_click"), or null: "prep" runs once per image on the
   * embedding (the first layer's image-side projections), "decoder" then answers prompts without
   * a mask input (first click, hover) from its outputs; refinement keeps the full graph.
   */
  readonly firstClick: { readonly prepUrl: string; readonly decoderUrl: string } | null;
  /** Run the first click's graph once before "ready" (default false; ?warmup=1 in the page). */
  readonly warmUp?: boolean;
  /**
   * Which model these graphs are (sam/modelChange.ts modelTag): embeddings handed in for another
   * model are refused, and touch finds only this model's entries (prep outputs are per decoder).
   */
  readonly model?: string;
}

/**
 * Sent right after the worker is created (before the manifest arrives): loads and compiles the wasm
 * runtime and starts its threads on a tiny graph, so init only downloads and creates the decoders.
 */
export interface BootRequest {
  readonly type: "boot";
  readonly id: number;
  readonly wasmBase: string;
  readonly threads: number;
  /** WebGPU: "auto" (a real GPU adapter), "off", or "force" (software adapters too: tests). */
  readonly gpu: "auto" | "off" | "force";
}

export interface EmbeddingRequest {
  readonly type: "embedding";
  readonly id: number;
  /** Which image this embedding belongs to; decode requests name it. */
  readonly key: string;
  /** The SAMEMB01 file's bytes (transferred, not copied). */
  readonly buffer: ArrayBuffer;
  readonly imageWidth: number;
  readonly imageHeight: number;
  readonly encoderInputSize: number;
  /** The model the page meant it for (InitRequest.model); refused when the worker now runs another. */
  readonly model?: string;
}

export interface DecodeRequest {
  readonly type: "decode";
  readonly id: number;
  readonly key: string;
  readonly prompt: Prompt;
  /** Low-res logits (4h × 4w) of the mask being refined, or null for a fresh prompt. */
  readonly previousLowRes: Float32Array | null;
}

/**
 * "Is this image's embedding still here?" The worker keeps a few images and drops the least recently
 * stored or touched; touching one (the image the page moves to) keeps it.
 */
export interface TouchRequest {
  readonly type: "touch";
  readonly id: number;
  readonly key: string;
}

export type WorkerRequest = BootRequest | InitRequest | EmbeddingRequest | DecodeRequest | TouchRequest;

/** Start-up phases measured in the worker: epoch milliseconds (performance.timeOrigin + now()). */
export type Phases = Record<string, number>;

export interface BootResult {
  readonly type: "boot";
  readonly id: number;
  readonly phases: Phases;
  /** The runtime chosen at boot; the page picks the graphs for it (fp32 on WebGPU, int8 on wasm). */
  readonly backend: "wasm" | "webgpu";
}

export interface InitResult {
  readonly type: "init";
  readonly id: number;
  readonly backend: string;
  readonly threads: number;
  readonly warmupMs: number;
  /** Whether the first-click graphs are in use. */
  readonly firstClick: boolean;
  readonly phases: Phases;
}

export interface EmbeddingResult {
  readonly type: "embedding";
  readonly id: number;
  readonly shape: readonly number[];
  readonly phases: Phases;
}

export interface DecodeResult {
  readonly type: "decode";
  readonly id: number;
  /**
   * With maskIndex (the worker): the officially chosen output only, upscaled and thresholded at 0,
   * height × width; the page upscales another candidate from lowRes when it is shown (Tab:
   * upscale.ts). Without maskIndex: all K outputs, K × height × width.
   */
  readonly masks: Uint8Array;
  readonly maskIndex?: number;
  readonly outputCount: number;
  readonly width: number;
  readonly height: number;
  readonly ious: Float32Array;
  /** K × 4h × 4w low-res logits (feed one back as mask_input). */
  readonly lowRes: Float32Array;
  readonly lowResSize: number;
  /** The encoder's square input side (the upscaling's first step, upscale.ts). */
  readonly encoderInputSize?: number;
  readonly decodeMs: number;
  /** Which graph answered: "first-click" (no mask input, prep outputs) or "full". */
  readonly graph: "first-click" | "full";
}

export interface TouchResult {
  readonly type: "touch";
  readonly id: number;
  readonly found: boolean;
}

export interface ErrorResult {
  readonly type: "error";
  readonly id: number;
  readonly message: string;
}

export type WorkerResponse = BootResult | InitResult | EmbeddingResult | DecodeResult | TouchResult | ErrorResult;

/** The result type that answers a request of type T. */
export type ResultFor<T extends WorkerRequest["type"]> = Extract<WorkerResponse, { type: T }>;
