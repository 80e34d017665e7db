/**
 * The SAM prompt decoder in a Web Worker on onnxruntime-web: WebGPU when the browser has a real GPU
 * adapter (the `onnxruntime-web/webgpu` bundle, imported by absolute URL only then, fp32 graphs), the
 * wasm CPU backend otherwise (bundled; int8 graphs). docs/annotator.md "WebGPU".
 * One session per model URL, created once and reused across images; embeddings are parsed once per
 * image and kept by key. With the first-click graphs (manifest "first_click") the per-image "prep"
 * graph runs once when the embedding arrives, and prompts without a mask input (first click, hover)
 * run the first-click graph on its outputs; refinement (previous low-res mask) runs the full graph.
 */
import * as wasmOrt from "onnxruntime-web/wasm";
import type { InferenceSession, Tensor } from "onnxruntime-web/wasm";
import { bootModelBytes } from "./bootModel";
import { parseEmbedding } from "./embedding";
import { officialMaskIndex, promptPointCount, promptToFeeds, type EmbeddingTensor } from "./feeds";
import type { BootRequest, DecodeRequest, EmbeddingRequest, InitRequest, Phases, WorkerRequest, WorkerResponse } from "./messages";
import { chooseBackend, type Backend } from "./backend";
import { upscaleCandidate, upscalePlan, type UpscalePlan } from "./upscale";

// The runtime in use: chosen once in boot(), before any session or tensor exists. The two bundles
// each have their own env and Tensor class, so nothing may mix them.
type Ort = typeof wasmOrt;
let ort: Ort = wasmOrt;
let backend: Backend = "wasm";

/** Epoch milliseconds: comparable with the page's clock (performance.timeOrigin differs per realm). */
const epoch = (): number => performance.timeOrigin + performance.now();
const workerStarted = epoch();

interface ImageEntry {
  readonly embedding: EmbeddingTensor;
  /** The embedding as an ort Tensor, made once (not per click). */
  readonly embeddingTensor: Tensor;
  /** The prep graph's outputs for this image (first-click graph inputs), or null. */
  readonly prepared: Record<string, Tensor> | null;
  readonly width: number;
  readonly height: number;
  readonly encoderInputSize: number;
  /** The model whose prep graph made `prepared` (InitRequest.model), or null when not named. */
  readonly model: string | null;
  /** Low-res → image-size taps, made at the first click on this image (low-res graphs only). */
  plan: UpscalePlan | null;
}

interface Graphs {
  /** The full graph (refinement): created at init beside the others, warmed after the first-click graph. */
  readonly full: () => Promise<InferenceSession>;
  readonly prep: InferenceSession | null;
  readonly firstClick: InferenceSession | null;
}

const sessions = new Map<string, Promise<InferenceSession>>();
let current: Promise<Graphs> | null = null;
// The model of `current` (InitRequest.model): set together with it, when init starts.
let currentModel: string | null = null;
// The embedding may arrive before init has even started (the page fetches both from its first
// lines): its prep run waits for the graphs init creates.
let announceGraphs: (graphs: Promise<Graphs>) => void = () => undefined;
const graphsAnnounced = new Promise<Promise<Graphs>>((resolve) => (announceGraphs = resolve));
// Only a few images are kept (the previous, the current and the next one handed ahead, plus one
// spare): ≈ 10 MiB each with the prep outputs. The least recently stored or touched goes first.
const images = new Map<string, ImageEntry>();
const MAX_IMAGES = 4;
// Session runs go one at a time (a background warm-up never overlaps a click's run).
let runQueue: Promise<unknown> = Promise.resolve();
let booted: Promise<Phases> | null = null;
let firstClickWarmed = false;
// A session's dummy run happens once per tab, not at every image's init.
const warmed = new WeakSet<InferenceSession>();

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
    case "boot":
      return [{ type: "boot", id: request.id, phases: await boot(request), backend }, []];
    case "init":
      currentModel = request.model ?? null; // before any later message is handled
      return [await init(request), []];
    case "embedding":
      return [await storeEmbedding(request), []];
    case "decode":
      return decode(request);
    case "touch":
      return [touch(request.id, request.key), []];
  }
}

function run(session: InferenceSession, feeds: Record<string, Tensor>): Promise<InferenceSession.OnnxValueMapType> {
  const result = runQueue.then(() => session.run(feeds));
  runQueue = result.catch(() => undefined);
  return result;
}

function openSession(url: string): Promise<InferenceSession> {
  let session = sessions.get(url);
  if (session === undefined) {
    session = (async () => {
      // The HTTP cache keeps the file (ETag, revalidated with a 304).
      const response = await fetch(url, { credentials: "same-origin" });
      if (!response.ok) {
        throw new Error(`decoder download failed: HTTP ${response.status}`);
      }
      const bytes = new Uint8Array(await response.arrayBuffer());
      // On WebGPU, nodes without a WebGPU kernel (shape ops) run on the CPU within the same session.
      const providers = backend === "webgpu" ? ["webgpu", "wasm"] : ["wasm"];
      return ort.InferenceSession.create(bytes, { executionProviders: providers, graphOptimizationLevel: "all" });
    })();
    sessions.set(url, session);
    session.catch(() => sessions.delete(url));
  }
  return session;
}

/**
 * Pick the runtime (WebGPU only with a real adapter, or when a test forces it), then load it and its
 * threads on a tiny graph (fetch + streaming compile, cached by V8). A WebGPU runtime that fails to
 * start falls back to wasm.
 */
function boot(request: Pick<BootRequest, "wasmBase" | "threads"> & { readonly gpu?: BootRequest["gpu"] }): Promise<Phases> {
  booted ??= (async () => {
    const bootStart = epoch();
    if (await useWebGpu(request.wasmBase, request.gpu ?? "auto")) {
      try {
        await startRuntime(request);
      } catch {
        ort = wasmOrt;
        backend = "wasm";
        await startRuntime(request);
      }
    } else {
      await startRuntime(request);
    }
    return { "worker-start": workerStarted, "runtime-boot-start": bootStart, "runtime-ready": epoch() };
  })();
  return booted;
}

async function useWebGpu(wasmBase: string, mode: BootRequest["gpu"]): Promise<boolean> {
  // Typed from what this code relies on, not lib.dom's WebGPU types: browsers without WebGPU have
  // no navigator.gpu, and older ones give adapters without `info`.
  const gpu = (navigator as { gpu?: GpuLike }).gpu;
  const adapter = gpu === undefined || mode === "off" ? null : await gpu.requestAdapter().catch(() => null);
  const choice = chooseBackend({ mode, adapter: adapter === null ? null : { fallback: adapter.info?.isFallbackAdapter === true } });
  if (choice !== "webgpu") {
    return false;
  }
  try {
    const gpuOrt = (await import(/* @vite-ignore */ `${wasmBase}ort.webgpu.min.mjs`)) as Ort;
    (gpuOrt.env.webgpu as { adapter?: unknown }).adapter = adapter; // ORT must not ask for another one
    ort = gpuOrt;
    backend = "webgpu";
    return true;
  } catch {
    return false;
  }
}

interface GpuLike {
  requestAdapter(): Promise<{ readonly info?: { readonly isFallbackAdapter?: boolean } } | null>;
}

async function startRuntime(request: Pick<BootRequest, "wasmBase" | "threads">): Promise<void> {
  // Must be set before the first session: onnxruntime-web otherwise picks 1 thread on 2 cores.
  ort.env.wasm.wasmPaths = request.wasmBase;
  ort.env.wasm.numThreads = request.threads;
  const session = await ort.InferenceSession.create(bootModelBytes(), { executionProviders: [backend] });
  await session.release();
}

async function init(request: InitRequest): Promise<WorkerResponse> {
  const phases: Phases = { ...(await boot(request)) };
  const split = request.firstClick;
  firstClickWarmed = false; // new sessions (another model): warmed after this init's first prep run
  // Every graph is created at init, together (downloads in parallel): the full graph (refinement
  // clicks and their hover decodes) too, so the first refinement in a tab never waits for a session
  // (it used to cost 1.4 s). With the split, "ready" does not wait for the full graph; it is warmed
  // up in the background after the first-click graph (see storeEmbedding), never during a click.
  const full = openSession(request.modelUrl);
  full.catch(() => undefined); // reported by the refinement that needs it
  const fullSession = (): Promise<InferenceSession> => full;
  current = Promise.all([
    split === null ? full : null,
    split === null ? null : openSession(split.prepUrl),
    split === null ? null : openSession(split.decoderUrl),
  ]).then(([, prep, firstClick]) => ({ full: fullSession, prep, firstClick }));
  announceGraphs(current);
  const graphs = await current;
  phases["sessions-created"] = epoch();
  const started = performance.now();
  // The dummy warm-up run of the first-click graph happens right after "ready", in the background:
  // before "ready" it cost 60-150 ms of first-mask time, while it saves the first click 20-30 ms
  // (docs/benchmarks.md Rounds 3-4); a click that comes at once queues behind it (runQueue).
  // Without the split (no prep run) the full graph is warmed up before "ready", as is ?warmup=1.
  if (request.warmUp === true || graphs.firstClick === null) {
    await warmUp(graphs.firstClick ?? (await graphs.full()));
    phases["warmup-done"] = epoch();
    firstClickWarmed = true;
  }
  const warmupMs = performance.now() - started;
  return {
    type: "init",
    id: request.id,
    backend,
    threads: request.threads,
    warmupMs,
    firstClick: graphs.firstClick !== null,
    phases,
  };
}

function embeddingDims(session: InferenceSession): [number, number, number] {
  const meta = session.inputMetadata.find((input) => input.name === "image_embeddings" || input.name === "image_tokens");
  const shape = meta !== undefined && meta.isTensor ? meta.shape.map((d) => (typeof d === "number" ? d : 1)) : [];
  if (meta?.name === "image_tokens") {
    // (1, h * w, C) tokens: assume a square grid.
    const [, tokens = 4096, channels = 256] = shape;
    const side = Math.round(Math.sqrt(tokens));
    return [channels, side, side];
  }
  const [, channels = 256, h = 64, w = 64] = shape;
  return [channels, h, w];
}

function touch(id: number, key: string): WorkerResponse {
  const entry = images.get(key);
  if (entry !== undefined) {
    images.delete(key); // most recent again: the image on screen is the last to be dropped
    images.set(key, entry);
  }
  return { type: "touch", id, found: entry !== undefined && entry.model === currentModel };
}

async function warmUp(session: InferenceSession): Promise<void> {
  if (warmed.has(session)) {
    return;
  }
  warmed.add(session);
  const [channels, h, w] = embeddingDims(session);
  const prompt = { points: [{ x: 1, y: 1, positive: true }], box: null };
  const feeds = promptToFeeds(prompt, { data: new Float32Array(channels * h * w), shape: [channels, h, w] }, { width: 64, height: 64 }, 4 * h * 4, null);
  const tensors: Record<string, Tensor> = {};
  for (const meta of session.inputMetadata) {
    const feed = feeds[meta.name as keyof typeof feeds] as { data: Float32Array; dims: readonly number[] } | undefined;
    if (feed !== undefined) {
      tensors[meta.name] = new ort.Tensor("float32", feed.data, feed.dims);
    } else if (meta.isTensor) {
      // Prep outputs (zeros of the graph's own shape).
      const dims = meta.shape.map((d) => (typeof d === "number" ? d : 1));
      tensors[meta.name] = new ort.Tensor("float32", new Float32Array(dims.reduce((a, b) => a * b, 1)), dims);
    }
  }
  await run(session, tensors);
}

async function storeEmbedding(request: EmbeddingRequest): Promise<WorkerResponse> {
  const parsed = parseEmbedding(request.buffer);
  const [channels, h, w] = parsed.shape;
  const embeddingTensor = new ort.Tensor("float32", parsed.data, [1, channels, h, w]);
  const phases: Phases = { "embedding-received": epoch() };
  // An embedding meant for the model before a switch (a late hand-ahead) would be prepared by the
  // new model's prep graph under the old model's key: refuse it (the page fetches it again if needed).
  if (request.model !== undefined && currentModel !== null && request.model !== currentModel) {
    throw new Error("the decoder changed to another model: embedding not stored");
  }
  // Before the first init (the page fetches the embedding beside it) the page's word is all there is.
  const model = request.model ?? currentModel;
  const graphs = await (current ?? (await graphsAnnounced));
  let prepared: Record<string, Tensor> | null = null;
  if (graphs.prep !== null) {
    // Prompt-independent work, once per image instead of once per click.
    const outputs = await run(graphs.prep, { image_embeddings: embeddingTensor });
    prepared = {};
    for (const name of graphs.prep.outputNames) {
      prepared[name] = outputs[name] as Tensor;
    }
    phases["prep-done"] = epoch();
    if (!firstClickWarmed && graphs.firstClick !== null) {
      // After the first prep run (which "ready" waits for), not before it.
      firstClickWarmed = true;
      // Then the refinement graph: a refinement click (or its hover) never meets a cold session.
      void warmUp(graphs.firstClick).then(() => graphs.full()).then((session) => warmUp(session)).catch(() => undefined);
    }
  }
  images.delete(request.key);
  images.set(request.key, {
    embedding: parsed,
    embeddingTensor,
    prepared,
    width: request.imageWidth,
    height: request.imageHeight,
    encoderInputSize: request.encoderInputSize,
    model,
    plan: null,
  });
  while (images.size > MAX_IMAGES) {
    images.delete(images.keys().next().value as string);
  }
  return { type: "embedding", id: request.id, shape: parsed.shape, phases };
}

async function decode(request: DecodeRequest): Promise<[WorkerResponse, Transferable[]]> {
  if (current === null) {
    throw new Error("the decoder is not initialised");
  }
  const graphs = await current;
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
  const useFirstClick = request.previousLowRes === null && graphs.firstClick !== null && image.prepared !== null;
  const session = useFirstClick ? graphs.firstClick : await graphs.full();
  const inputs: Record<string, Tensor> = {};
  for (const name of session.inputNames) {
    if (name === "image_embeddings") {
      inputs[name] = image.embeddingTensor;
    } else if (useFirstClick && image.prepared[name] !== undefined) {
      inputs[name] = image.prepared[name]!;
    } else {
      const feed = feeds[name as keyof typeof feeds];
      if (feed === undefined) {
        throw new Error(`the decoder graph wants an input this page does not make: ${name}`);
      }
      inputs[name] = new ort.Tensor("float32", feed.data, feed.dims);
    }
  }
  const outputs = await run(session, inputs);
  const ious = new Float32Array(outputs["iou_predictions"]!.data as Float32Array);
  const lowResTensor = outputs["low_res_masks"]!;
  const [, outputCount = 1, lowResSize = 0] = lowResTensor.dims;
  const lowRes = new Float32Array(lowResTensor.data as Float32Array);
  const masksTensor = outputs["masks"];
  const { width, height } = image;
  // Only the candidate the page shows first (the official choice); Tab upscales others there.
  const maskIndex = outputCount > 1 ? officialMaskIndex(ious, promptPointCount(request.prompt)) : 0;
  let masks: Uint8Array;
  if (masksTensor === undefined) {
    // Low-res graph (the registered export): upscale + threshold here, one fused pass.
    image.plan ??= upscalePlan(height, width, lowResSize, image.encoderInputSize);
    masks = upscaleCandidate(lowRes, maskIndex, image.plan);
  } else {
    // Older full-size graph: threshold here, so a byte per pixel crosses to the page, not four.
    const plane = width * height;
    const logits = (masksTensor.data as Float32Array).subarray(maskIndex * plane, (maskIndex + 1) * plane);
    masks = new Uint8Array(plane);
    for (let i = 0; i < plane; i += 1) {
      masks[i] = logits[i]! > 0 ? 1 : 0;
    }
  }
  const response: WorkerResponse = {
    type: "decode",
    id: request.id,
    masks,
    maskIndex,
    outputCount,
    width,
    height,
    ious,
    lowRes,
    lowResSize,
    encoderInputSize: image.encoderInputSize,
    decodeMs: performance.now() - started,
    graph: useFirstClick ? "first-click" : "full",
  };
  return [response, [masks.buffer, lowRes.buffer]];
}
