/**
 * Click-to-segment's runtime, in two lifetimes:
 * - `SamRuntime`, one per tab: the decoder worker (its wasm runtime, ONNX sessions, first-click
 *   warm-up) and which embeddings it holds; reused across in-place moves to other images;
 * - `ImageSam`, one per image (`SamRuntime.open`): fetches the manifest (a promoted model is
 *   picked up on the next image), loads the decoders and this image's embedding into the worker,
 *   and 1.5 s after it is ready hands the next image's embedding to the worker ahead of time.
 * Decode scheduling per prompt (first click, refinement, hover) is `sam/session.ts` over
 * `sam/decoderClient.ts`.
 */
import * as api from "../api/annotator";
import { listRuns, listVersions } from "../api/finetuning";
import { modelStatusText } from "../finetune/format";
import { SAM_TARGET_LENGTH } from "../geometry/transforms";
import DecoderWorker from "./decoder.worker?worker&inline";
import { benchRecord } from "./bench";
import { DecoderClient } from "./decoderClient";
import { firstClickUrls } from "./firstClick";
import type { ResultFor } from "./messages";
import { embeddingFits, embeddingKey as workerKey, modelSwitch, modelTag, type ManifestModelInfo } from "./modelChange";
import { markPhases } from "./phases";

// The worker keeps 4 images (decoder.worker.ts MAX_IMAGES): previous, current, next and a spare.
const KEPT = 3;

export interface ImageSamOptions {
  readonly image: { readonly id: number; readonly width: number; readonly height: number };
  readonly projectId: number;
  readonly nextImage: { readonly id: number; readonly width: number; readonly height: number; readonly url: string } | null;
  readonly root: HTMLElement;
  readonly status: { readonly embedding: HTMLElement; readonly decoder: HTMLElement; readonly model: HTMLElement };
  /** Aborted when the page moves to another image: late work of this one is dropped. */
  readonly signal: AbortSignal;
  showError(message: string): void;
  /** The decoder and the embedding are ready: clicks segment from now on. */
  onReady(): void;
}

export class SamRuntime {
  readonly client: DecoderClient;
  readonly booted: Promise<ResultFor<"boot">>;
  readonly wasmBase: string;
  readonly threads: number;
  /**
   * Embeddings believed to be in the worker (handed ahead, or loaded), least recent first; at most
   * KEPT. The worker is asked ("touch") before one is relied on, so a wrong belief costs a fetch.
   */
  readonly inWorker = new Map<string, Promise<unknown>>();
  /**
   * The project's model the worker last ran (null before the first manifest). The manifest is asked
   * again on every move, so a promoted or rolled-back version is used from the next image on.
   */
  model: ManifestModelInfo | null = null;
  /** The status line of that model (name, version, measured quality), fetched once per model. */
  modelStatus: { readonly id: number; readonly text: Promise<string> } | null = null;

  constructor(ortRuntimeUrl: string) {
    this.client = new DecoderClient(new DecoderWorker());
    this.wasmBase = new URL(ortRuntimeUrl, window.location.href).href;
    this.threads = self.crossOriginIsolated ? 2 : 1;
    // ?gpu=off|force: WebGPU is otherwise used when the browser has a real GPU adapter (sam/backend.ts).
    const gpuParam = new URLSearchParams(window.location.search).get("gpu");
    const gpu = gpuParam === "off" || gpuParam === "force" ? gpuParam : "auto";
    this.booted = this.client.request<"boot">({ type: "boot", wasmBase: this.wasmBase, threads: this.threads, gpu });
    this.booted.catch(() => undefined); // awaited (and reported) in ImageSam.start
  }

  /** Start this image's decoder and embedding at once (beside the annotations' fetch). */
  open(options: ImageSamOptions): ImageSam {
    const sam = new ImageSam(this, options);
    void sam.start();
    return sam;
  }

  /** Does the worker (probably) hold an embedding of this image already? */
  holds(imageId: number): boolean {
    return [...this.inWorker.keys()].some((key) => key.startsWith(`${imageId}:`));
  }

  /** Note a key as the most recently used (the worker drops the least recent), keeping at most KEPT. */
  remember(key: string, value: Promise<unknown>): void {
    this.inWorker.delete(key);
    this.inWorker.set(key, value);
    while (this.inWorker.size > KEPT) {
      this.inWorker.delete(this.inWorker.keys().next().value as string);
    }
  }
}

export class ImageSam {
  /** Set once the decoder and the embedding are ready. */
  decoder: DecoderClient | null = null;
  embeddingKey: string | null = null;
  private readonly manifestRequest: Promise<api.ModelManifest>;
  private early: ReturnType<typeof api.fetchEmbedding> | null = null;

  constructor(private readonly runtime: SamRuntime, private readonly options: ImageSamOptions) {
    this.manifestRequest = api.projectModel(options.projectId);
    this.manifestRequest.catch(() => undefined); // awaited (and reported) in start
    // Not fetched again when it already reached the worker ahead of time (keys need the manifest).
    if (!runtime.holds(options.image.id)) {
      this.earlyEmbedding().catch(() => undefined);
    }
  }

  private earlyEmbedding(): ReturnType<typeof api.fetchEmbedding> {
    this.early ??= api.fetchEmbedding(this.options.image.id);
    return this.early;
  }

  async start(): Promise<void> {
    const { status, root, signal } = this.options;
    const runtime = this.runtime;
    try {
      let manifest = await this.manifestRequest;
      performance.mark("sam:manifest");
      void runtime.booted.then((result) => markPhases(result.phases), () => undefined);
      // A model whose stored decoders predate the current export is re-exported in the background.
      for (let attempt = 0; (manifest as { decoder_state?: string }).decoder_state === "preparing"; attempt += 1) {
        if (signal.aborted) {
          return; // the page moved to another image
        }
        status.decoder.dataset["status"] = "preparing";
        status.decoder.textContent = "decoder: being prepared for this model — the polygon tool works meanwhile";
        await sleep(Math.min(5000, 1000 + attempt * 500));
        manifest = await api.projectModel(this.options.projectId);
      }
      const { backend } = await runtime.booted;
      if (signal.aborted) {
        return;
      }
      // Another model than on the image before (promoted or rolled back meanwhile): its graphs are
      // loaded by the init below, and the worker's entries prepared by the old decoder are not reused.
      const model: ManifestModelInfo = manifest.model;
      const change = modelSwitch(runtime.model, model, runtime.inWorker.keys());
      for (const key of change.staleKeys) {
        runtime.inWorker.delete(key);
      }
      runtime.model = model;
      root.dataset["modelId"] = String(model.id);
      root.dataset["modelChanged"] = String(change.changed);
      this.showModelStatus(model);
      // WebGPU runs fp32 (its EP has no kernels for the int8 graphs' integer MatMuls) and the full
      // graph (the first-click files are stored optimised for the CPU backend).
      const onGpu = backend === "webgpu";
      const query = new URLSearchParams(window.location.search);
      const requested = query.get("decoder");
      const variant = requested ?? (onGpu ? "fp32" : "int8");
      // Refinement clicks (full graph, previous mask fed back) run fp32 unless ?decoder= asks: int8
      // drifts along a click chain (IoU vs the official export down to 0.92, docs/benchmarks.md).
      const fullVariant = requested ?? "fp32";
      // ?firstclick=0 runs every prompt through the full graph (bench/click_latency.py compares both).
      const firstClick = !onGpu && query.get("firstclick") !== "0";
      const decoderFile = manifest.decoders[fullVariant] ?? manifest.decoders["fp32"] ?? manifest.decoders["int8"];
      if (decoderFile === undefined) {
        throw new Error("the project's model has no decoder");
      }
      const client = runtime.client;
      const [init] = await Promise.all([
        client.request<"init">({
          type: "init", modelUrl: decoderFile.url, wasmBase: runtime.wasmBase, threads: runtime.threads,
          firstClick: firstClick ? firstClickUrls(manifest, variant) : null,
          warmUp: query.get("warmup") === "1", model: modelTag(model),
        }),
        this.loadEmbedding(client, manifest),
      ]);
      if (signal.aborted) {
        return;
      }
      markPhases(init.phases);
      performance.mark("sam:ready");
      this.decoder = client;
      status.decoder.dataset["status"] = "ready";
      const graphs = init.firstClick ? `first-click graph ${variant}, refinement ${fullVariant}` : fullVariant;
      const switched = change.changed ? " (the project's model changed: new decoder loaded)" : "";
      status.decoder.textContent = `decoder: ${manifest.model.name} ${graphs}, ${init.backend} × ${init.threads} threads${switched}`;
      root.dataset["decoder"] = "ready";
      const bench = benchRecord();
      if (bench !== undefined) {
        bench.ready = performance.now();
      }
      this.options.onReady();
      const next = this.options.nextImage;
      if (next !== null) {
        // After a pause, so that the labeler's first click does not queue behind its prep run.
        setTimeout(() => signal.aborted || this.handAhead(client, manifest, next), 1500);
      }
    } catch (error) {
      if (signal.aborted) {
        return;
      }
      status.decoder.dataset["status"] = "error";
      status.decoder.textContent = "decoder: failed";
      this.options.showError(`Click-to-segment is unavailable: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** The active model's name, version and measured quality (docs/models.md), from its record. */
  private showModelStatus(model: ManifestModelInfo): void {
    const runtime = this.runtime;
    const element = this.options.status.model;
    if (runtime.modelStatus?.id !== model.id) {
      const projectId = this.options.projectId;
      const text = Promise.all([listVersions(projectId), listRuns(projectId)])
        .then(([versions, runs]) => modelStatusText(versions, runs, model.id) || `model: ${model.name}`);
      runtime.modelStatus = { id: model.id, text };
    }
    element.dataset["modelId"] = String(model.id);
    element.textContent = `model: ${model.name}`;
    runtime.modelStatus.text.then(
      (text) => {
        element.textContent = text;
        element.dataset["builtin"] = String(text.includes("built-in default"));
      },
      () => undefined, // the name alone stays
    );
  }

  /** The next image's embedding into the worker now (parsed, prep graph run), if it is computed. */
  private handAhead(client: DecoderClient, manifest: api.ModelManifest, next: NonNullable<ImageSamOptions["nextImage"]>): void {
    const { root } = this.options;
    const runtime = this.runtime;
    // Its picture into the HTTP cache too (private, max-age 3600), so it shows at once on arrival.
    void fetch(next.url, { credentials: "same-origin" }).then((response) => response.blob()).catch(() => undefined);
    const key = workerKey(next.id, manifest.model);
    const already = runtime.inWorker.get(key);
    if (already !== undefined) {
      already.then(() => (root.dataset["nextAhead"] = "ready"), () => undefined);
      return;
    }
    const handed = api.fetchEmbedding(next.id).then((fetched) => {
      if (fetched === null || !embeddingFits(fetched.modelSha256, manifest.model)) {
        throw new Error("not ready");
      }
      return client.request<"embedding">({
        type: "embedding", key, buffer: fetched.buffer, imageWidth: next.width, imageHeight: next.height,
        encoderInputSize: manifest.encoder_input_size || SAM_TARGET_LENGTH, model: modelTag(manifest.model),
      }, [fetched.buffer]);
    });
    runtime.remember(key, handed);
    handed.then(
      () => (root.dataset["nextAhead"] = "ready"),
      () => runtime.inWorker.delete(key), // not computed yet: fetched when opened
    );
  }

  private ready(key: string, ahead: boolean): void {
    const { status, root } = this.options;
    this.embeddingKey = key;
    status.embedding.dataset["status"] = "ready";
    status.embedding.textContent = "embedding: ready";
    root.dataset["embedding"] = "ready";
    if (ahead) {
      root.dataset["embeddingAhead"] = "true";
    }
  }

  private async loadEmbedding(client: DecoderClient, manifest: api.ModelManifest): Promise<void> {
    const { image, signal, status } = this.options;
    const runtime = this.runtime;
    const key = workerKey(image.id, manifest.model);
    const ahead = runtime.inWorker.get(key);
    // Still in the worker? Touching it also keeps it there longest.
    const found = ahead !== undefined && (await ahead.then(() => true, () => false)) &&
      (await client.request<"touch">({ type: "touch", key })).found;
    if (signal.aborted) {
      return;
    }
    if (found) {
      runtime.remember(key, ahead);
      performance.mark("sam:embedding-ahead");
      this.ready(key, true);
      return;
    }
    runtime.inWorker.delete(key);
    for (let attempt = 0; ; attempt += 1) {
      const fetched = attempt === 0 ? await this.earlyEmbedding() : await api.fetchEmbedding(image.id);
      if (signal.aborted) {
        return; // the page moved on: this image's embedding is not wanted in the worker now
      }
      if (fetched !== null) {
        performance.mark("sam:embedding-fetched");
        // A fine-tuned version reads its base's embeddings: what must match is the encoder.
        if (!embeddingFits(fetched.modelSha256, manifest.model)) {
          throw new Error("the embedding was made by another model's encoder than the project's decoder reads");
        }
        const stored = await client.request<"embedding">(
          {
            type: "embedding", key, buffer: fetched.buffer, imageWidth: image.width, imageHeight: image.height,
            encoderInputSize: manifest.encoder_input_size || SAM_TARGET_LENGTH, model: modelTag(manifest.model),
          },
          [fetched.buffer],
        );
        markPhases(stored.phases);
        runtime.remember(key, Promise.resolve()); // now in the worker: coming back here needs no fetch
        this.ready(key, false);
        return;
      }
      const state = await api.embeddingStatus(image.id);
      if (signal.aborted) {
        return;
      }
      status.embedding.dataset["status"] = state.status;
      status.embedding.textContent = `embedding: ${state.status}${state.error ? ` (${state.error})` : ""} — the polygon tool works meanwhile`;
      if (state.status === "failed") {
        throw new Error(`the embedding failed: ${state.error ?? "unknown error"}`);
      }
      await sleep(Math.min(5000, 1000 + attempt * 500));
    }
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
