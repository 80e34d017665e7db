/**
 * The SAM prompt decoder in a Web Worker on onnxruntime-web (wasm; WebGPU is not used: headless
 * Chromium here has no adapter and the software fallback takes seconds per run).
 * One session per model URL, created once and warmed up with a dummy run (the first run after
 * creation is several times slower); embeddings are parsed once per image and kept by key.
 */
import * as ort from "onnxruntime-web/wasm";
import { parseEmbedding } from "./embedding";
import { promptToFeeds, type EmbeddingTensor } from "./feeds";
import type { DecodeRequest, EmbeddingRequest, InitRequest, WorkerRequest, WorkerResponse } from "./messages";
import { upscalePlan, upscaleThreshold, type UpscalePlan } from "./upscale";

interface ImageEntry {
  readonly embedding: EmbeddingTensor;
  readonly width: number;
  readonly height: number;
  readonly encoderInputSize: number;
  /** Low-res → image-size taps, made at the first click on this image (low-res graphs only). */
  plan: UpscalePlan | null;
}

const sessions = new Map<string, Promise<ort.InferenceSession>>();
let current: ort.InferenceSession | null = null;
// Only a few images are kept (the current and the prefetched next one): 4 MiB of float32 each.
const images = new Map<string, ImageEntry>();
const MAX_IMAGES = 3;

const scope = self as unknown as DedicatedWorkerGlobalScope;

scope.onmessage = (event: MessageEvent<WorkerRequest>) => {
  const request = event.data;
  handle(request).then(
    ([response, transfer]) => scope.postMessage(response, transfer),
    (error: unknown) => {
      const message = error instanceof Error ? error.message : String(error);
      scope.postMessage({ type: "error", id: request.id, message } satisfies WorkerResponse);
    },
  );
};

async function handle(request: WorkerRequest): Promise<[WorkerResponse, Transferable[]]> {
  switch (request.type) {
    case "init":
      return [await init(request), []];
    case "embedding":
      return [storeEmbedding(request), []];
    case "decode":
      return decode(request);
  }
}

async function init(request: InitRequest): Promise<WorkerResponse> {
  // Must be set before the first session: onnxruntime-web otherwise picks 1 thread on 2 cores.
  ort.env.wasm.wasmPaths = request.wasmBase;
  ort.env.wasm.numThreads = request.threads;
  let session = sessions.get(request.modelUrl);
  if (session === undefined) {
    session = (async () => {
      const response = await fetch(request.modelUrl, { credentials: "same-origin" });
      if (!response.ok) {
        throw new Error(`decoder download failed: HTTP ${response.status}`);
      }
      const bytes = new Uint8Array(await response.arrayBuffer());
      return ort.InferenceSession.create(bytes, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
    })();
    sessions.set(request.modelUrl, session);
  }
  current = await session;
  const started = performance.now();
  await warmUp(current);
  return { type: "init", id: request.id, backend: "wasm", threads: request.threads, warmupMs: performance.now() - started };
}

async function warmUp(session: ort.InferenceSession): Promise<void> {
  // Shapes from the graph's own inputs: (1, C, h, w) embedding, (1, 1, 4h, 4w) mask.
  const meta = session.inputMetadata.find((input) => input.name === "image_embeddings");
  const dims = meta !== undefined && meta.isTensor ? meta.shape.map((d) => (typeof d === "number" ? d : 1)) : [1, 256, 64, 64];
  const [, channels = 256, h = 64, w = 64] = dims;
  const embedding: EmbeddingTensor = { data: new Float32Array(channels * h * w), shape: [channels, h, w] };
  const feeds = promptToFeeds({ points: [{ x: 1, y: 1, positive: true }], box: null }, embedding, { width: 64, height: 64 }, 4 * h * 4, null);
  await session.run(toOrt(feeds, session.inputNames));
}

function storeEmbedding(request: EmbeddingRequest): WorkerResponse {
  const parsed = parseEmbedding(request.buffer);
  images.delete(request.key);
  images.set(request.key, {
    embedding: parsed,
    width: request.imageWidth,
    height: request.imageHeight,
    encoderInputSize: request.encoderInputSize,
    plan: null,
  });
  while (images.size > MAX_IMAGES) {
    images.delete(images.keys().next().value as string);
  }
  return { type: "embedding", id: request.id, shape: parsed.shape };
}

async function decode(request: DecodeRequest): Promise<[WorkerResponse, Transferable[]]> {
  if (current === null) {
    throw new Error("the decoder is not initialised");
  }
  const image = images.get(request.key);
  if (image === undefined) {
    throw new Error(`no embedding loaded for ${request.key}`);
  }
  const started = performance.now();
  const feeds = promptToFeeds(
    request.prompt,
    image.embedding,
    { width: image.width, height: image.height },
    image.encoderInputSize,
    request.previousLowRes,
  );
  const outputs = await current.run(toOrt(feeds, current.inputNames));
  const ious = new Float32Array(outputs["iou_predictions"]!.data as Float32Array);
  const lowResTensor = outputs["low_res_masks"]!;
  const [, outputCount = 1, lowResSize = 0] = lowResTensor.dims;
  const lowRes = new Float32Array(lowResTensor.data as Float32Array);
  const masksTensor = outputs["masks"];
  const { width, height } = image;
  let masks: Uint8Array;
  if (masksTensor === undefined) {
    // Low-res graph (the registered export): upscale + threshold here, one fused pass per output.
    image.plan ??= upscalePlan(height, width, lowResSize, image.encoderInputSize);
    masks = upscaleThreshold(lowRes, outputCount, image.plan);
  } else {
    // Older full-size graph: threshold here, so a byte per pixel crosses to the page, not four.
    const logits = masksTensor.data as Float32Array;
    masks = new Uint8Array(logits.length);
    for (let i = 0; i < logits.length; i += 1) {
      masks[i] = logits[i]! > 0 ? 1 : 0;
    }
  }
  const response: WorkerResponse = {
    type: "decode",
    id: request.id,
    masks,
    outputCount,
    width,
    height,
    ious,
    lowRes,
    lowResSize,
    decodeMs: performance.now() - started,
  };
  return [response, [masks.buffer, lowRes.buffer]];
}

/** Only the inputs the graph has: low-res graphs take no orig_im_size. */
function toOrt(feeds: ReturnType<typeof promptToFeeds>, inputNames: readonly string[]): Record<string, ort.Tensor> {
  const out: Record<string, ort.Tensor> = {};
  for (const [name, tensor] of Object.entries(feeds)) {
    if (inputNames.includes(name)) {
      out[name] = new ort.Tensor("float32", tensor.data, tensor.dims);
    }
  }
  return out;
}
