/**
 * Entry point of the annotator page (templates/annotator/annotate.html): reads the page's config,
 * loads the image, the annotations, the model manifest and the embedding, starts the decoder
 * worker and wires the controller, the autosaver and the status line. Other pages only get marked.
 */
import * as api from "./api/annotator";
import { SAM_TARGET_LENGTH } from "./geometry/transforms";
import { DecoderClient } from "./sam/decoderClient";
import { firstClickUrls } from "./sam/firstClick";
import { markPhases } from "./sam/phases";
import DecoderWorker from "./sam/decoder.worker?worker&inline";
import { Autosaver, type SaveState } from "./state/autosave";
import { DocumentStore, type AnnotationDoc, type AnnotationSourceName } from "./state/document";
import { AnnotatorApp, newLocalId, type LabelClassInfo, type ToolName } from "./tools/annotatorApp";
import { ReviewPanel, type ReviewConfig } from "./tools/reviewPanel";
import { SamSession } from "./tools/samSession";
import { WindowLevelControl } from "./tools/windowLevel";
import type { DicomConfig } from "./api/dicom";

interface PageConfig {
  image: { id: number; width: number; height: number; name: string; url: string };
  project: { id: number; name: string; url: string };
  can_write: boolean;
  role: string;
  review: ReviewConfig;
  label_classes: LabelClassInfo[];
  previous_url: string | null;
  next_url: string | null;
  next_image_id: number | null;
  ort_runtime_url: string;
  dicom: DicomConfig | null; // window/level and frames of DICOM images (tools/windowLevel.ts)
}

interface BenchRecord {
  clicks: { start: number; drawn: number; decodeMs: number }[];
  ready: number | null;
}

const byId = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

function start(): void {
  document.documentElement.dataset["frontend"] = "ready";
  const root = document.getElementById("annotator-root");
  const configElement = document.getElementById("annotator-config");
  if (root === null || configElement === null) {
    return;
  }
  const config = JSON.parse(configElement.textContent ?? "{}") as PageConfig;
  void startAnnotator(root, config);
}

async function startAnnotator(root: HTMLElement, config: PageConfig): Promise<void> {
  const status = {
    isolation: byId("isolation-status"),
    embedding: byId("embedding-status"),
    decoder: byId("decoder-status"),
    save: byId("save-status"),
    candidate: byId("candidate-status"),
  };
  const errorBanner = byId("error-banner");
  const showError = (message: string): void => {
    errorBanner.textContent = message;
    errorBanner.hidden = false;
    root.dataset["error"] = message;
  };
  window.addEventListener("unhandledrejection", (event) => showError(`Unexpected error: ${String(event.reason)}`));

  const isolated = self.crossOriginIsolated === true;
  status.isolation.dataset["isolated"] = String(isolated);
  status.isolation.textContent = isolated
    ? "cross-origin isolated: 2 decoder threads"
    : "not cross-origin isolated: the decoder runs on 1 thread (slower)";

  // The first-mask path starts before the rest of the page is set up: the decoder worker boots its
  // wasm runtime while the manifest and the embedding download (phases: sam/phases.ts marks).
  performance.mark("sam:bundle");
  const decoderClient = new DecoderClient(new DecoderWorker());
  const wasmBase = new URL(config.ort_runtime_url, window.location.href).href;
  const threads = isolated ? 2 : 1;
  // ?gpu=off|force: WebGPU is otherwise used when the browser has a real GPU adapter (sam/backend.ts).
  const gpuParam = new URLSearchParams(window.location.search).get("gpu");
  const gpu = gpuParam === "off" || gpuParam === "force" ? gpuParam : "auto";
  const booted = decoderClient.request<"boot">({ type: "boot", wasmBase, threads, gpu });
  const earlyEmbedding = api.fetchEmbedding(config.image.id);
  const manifestRequest = api.projectModel(config.project.id);
  for (const early of [booted, earlyEmbedding, manifestRequest]) {
    early.catch(() => undefined); // awaited (and reported) in startDecoder
  }

  const store = new DocumentStore();
  let decoder: DecoderClient | null = null;
  let embeddingKey: string | null = null;
  let app: AnnotatorApp | null = null;
  let review: ReviewPanel | null = null;
  const sam = new SamSession(() => decoder, () => embeddingKey, () => app?.changed(), showError);
  app = new AnnotatorApp(byId<HTMLCanvasElement>("canvas"), store, sam, config.label_classes, config.image, {
    onChange: () => updateChrome(),
    navigate: (step) => {
      const url = step < 0 ? config.previous_url : config.next_url;
      if (url !== null) {
        window.location.assign(url);
      }
    },
    toggleHelp: () => (byId("help-overlay").hidden = !byId("help-overlay").hidden),
    replaceGeometry: (localId, polygons, prompts) => review?.replaceGeometry(localId, polygons, prompts),
  });
  const controller = app;

  const saver = new Autosaver(config.image.id, store, {
    onState: (state: SaveState, detail: string) => {
      status.save.dataset["state"] = state;
      status.save.textContent = detail ? `${state}: ${detail}` : state;
      root.dataset["saveState"] = state;
      review?.onSaveState(state);
    },
    onConflict: ({ localId, current }) => {
      const banner = byId("conflict-banner");
      banner.querySelector(".message")!.textContent =
        `Annotation #${current.id} was changed elsewhere (now version ${current.version}). Your change is kept here.`;
      banner.hidden = false;
      byId("conflict-reload").onclick = () => {
        banner.hidden = true;
        saver.reapplyOver(localId);
      };
    },
  });
  window.addEventListener("beforeunload", (event) => {
    if (saver.dirty || saver.state === "error" || saver.state === "conflict") {
      event.preventDefault();
      event.returnValue = "";
    }
  });

  // Benchmark hook (bench/click_latency.py), inert unless the page was given window.__samBench:
  // the canvas pointerdown time, and the time the frame that draws a new mask has run.
  const bench = (window as unknown as { __samBench?: BenchRecord }).__samBench;
  let benchShown: unknown = null;
  let benchStart = 0;
  if (bench !== undefined) {
    byId("canvas").addEventListener("pointerdown", (e) => (benchStart = e.timeStamp), { capture: true });
  }

  function updateChrome(): void {
    const shown = sam.shown;
    if (bench !== undefined && sam.result !== null && sam.result !== benchShown) {
      const start = benchStart;
      const decodeMs = sam.result.decodeMs;
      // After changed() has queued the app's draw frame, so this frame callback runs after the draw.
      queueMicrotask(() => requestAnimationFrame(() => bench.clicks.push({ start, drawn: performance.now(), decodeMs })));
    }
    benchShown = sam.result;
    status.candidate.textContent = shown
      ? `mask ${shown.candidates.indexOf(shown.index) + 1}/${shown.candidates.length} · predicted IoU ${shown.iou.toFixed(3)}${shown.candidates.length > 1 ? " (Tab for others)" : ""}`
      : "";
    root.dataset["maskIndex"] = shown ? String(shown.index) : "";
    root.dataset["maskArea"] = shown ? String(shown.mask.reduce((a, b) => a + b, 0)) : "";
    root.dataset["annotationCount"] = String(store.present.annotations.length);
    root.dataset["selected"] = controller.selected ?? "";
    root.dataset["tool"] = controller.tool;
    renderList();
  }

  function renderList(): void {
    review?.render(); // the list with review status, comments and (review mode) decisions
  }

  wireToolbar(controller);
  if (config.dicom) {
    // The shown image only: the embedding keeps the stored rendition (the project's window).
    new WindowLevelControl(config.dicom, { root, bar: byId("dicom-bar"), stage: byId("stage") }, {
      setImage: (image) => {
        controller.image = image;
        controller.changed();
      },
      showError,
    });
  }
  review = new ReviewPanel({
    imageId: config.image.id,
    role: config.role,
    review: config.review,
    labelClasses: config.label_classes,
    app: controller,
    store,
    saver,
    sam,
    elements: {
      root,
      status: byId("review-status"),
      submit: byId<HTMLButtonElement>("submit-image"),
      banner: byId("review-banner"),
      bar: byId("review-bar"),
      imageComment: byId<HTMLInputElement>("review-image-comment"),
      approveAll: byId<HTMLButtonElement>("approve-all"),
      rejectAll: byId<HTMLButtonElement>("reject-all"),
      message: byId("review-message"),
      list: byId("annotation-list"),
    },
  });

  // Image first: the polygon tool works without SAM.
  const image = new Image();
  image.src = config.image.url;
  image.decode().then(
    () => {
      controller.image = image;
      controller.changed();
      root.dataset["imageLoaded"] = "true";
    },
    () => showError("The image could not be loaded."),
  );
  void startDecoder();
  try {
    const existing = await api.listAnnotations(config.image.id);
    const docs: AnnotationDoc[] = existing.map((server) => {
      const doc: AnnotationDoc = {
        localId: newLocalId(),
        labelClass: server.label_class,
        polygons: server.polygons,
        source: server.source as AnnotationSourceName,
        prompts: server.prompts,
        timeSpentMs: server.time_spent_ms,
        clickCount: server.click_count,
      };
      saver.adopt(doc.localId, server);
      return doc;
    });
    store.replaceSilently({ annotations: docs });
    review.load(existing);
    root.dataset["annotationsLoaded"] = "true";
  } catch (error) {
    showError(`Annotations could not be loaded: ${String(error)}`);
  }

  // The decoder starts at once, beside the annotations' fetch (first mask sooner).
  async function startDecoder(): Promise<void> {
    try {
      let manifest = await manifestRequest;
      performance.mark("sam:manifest");
      void booted.then((result) => markPhases(result.phases), () => undefined);
      // A model whose stored decoders predate the current export is re-exported in the background.
      for (let attempt = 0; (manifest as { decoder_state?: string }).decoder_state === "preparing"; attempt += 1) {
        status.decoder.dataset["status"] = "preparing";
        status.decoder.textContent = "decoder: being prepared for this model — the polygon tool works meanwhile";
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 1000 + attempt * 500)));
        manifest = await api.projectModel(config.project.id);
      }
      const { backend } = await booted;
      // WebGPU runs fp32 (its EP has no kernels for the int8 graphs' integer MatMuls) and the full
      // graph (the first-click files are stored optimised for the CPU backend).
      const onGpu = backend === "webgpu";
      const requested = new URLSearchParams(window.location.search).get("decoder");
      const variant = requested ?? (onGpu ? "fp32" : "int8");
      // Refinement clicks (full graph, previous mask fed back) run fp32 unless ?decoder= asks: int8
      // drifts along a click chain (IoU vs the official export down to 0.92, docs/benchmarks.md).
      const fullVariant = requested ?? "fp32";
      // ?firstclick=0 runs every prompt through the full graph (bench/click_latency.py compares both).
      const firstClick = !onGpu && new URLSearchParams(window.location.search).get("firstclick") !== "0";
      const model = manifest.decoders[fullVariant] ?? manifest.decoders["fp32"] ?? manifest.decoders["int8"];
      if (model === undefined) {
        throw new Error("the project's model has no decoder");
      }
      const client = decoderClient;
      const [init] = await Promise.all([
        client.request<"init">({ type: "init", modelUrl: model.url, wasmBase, threads, firstClick: firstClick ? firstClickUrls(manifest, variant) : null,
          warmUp: new URLSearchParams(window.location.search).get("warmup") === "1" }),
        loadEmbedding(client, manifest),
      ]);
      markPhases(init.phases);
      performance.mark("sam:ready");
      decoder = client;
      status.decoder.dataset["status"] = "ready";
      const graphs = init.firstClick ? `first-click graph ${variant}, refinement ${fullVariant}` : `${fullVariant}`;
      status.decoder.textContent = `decoder: ${manifest.model.name} ${graphs}, ${init.backend} × ${init.threads} threads`;
      root.dataset["decoder"] = "ready";
      if (bench !== undefined) {
        bench.ready = performance.now();
      }
      controller.changed();
      if (config.next_image_id !== null) {
        void fetch(`/api/images/${config.next_image_id}/embedding/`, { credentials: "same-origin" }).catch(() => undefined);
      }
    } catch (error) {
      status.decoder.dataset["status"] = "error";
      status.decoder.textContent = "decoder: failed";
      showError(`Click-to-segment is unavailable: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  async function loadEmbedding(client: DecoderClient, manifest: api.ModelManifest): Promise<void> {
    for (let attempt = 0; ; attempt += 1) {
      const fetched = attempt === 0 ? await earlyEmbedding : await api.fetchEmbedding(config.image.id);
      if (fetched !== null) {
        performance.mark("sam:embedding-fetched");
        if (fetched.modelSha256 && fetched.modelSha256 !== manifest.model.checkpoint_sha256) {
          throw new Error("the embedding was made by another model than the project's decoder");
        }
        const key = `${config.image.id}:${manifest.model.checkpoint_sha256}`;
        const stored = await client.request<"embedding">(
          {
            type: "embedding",
            key,
            buffer: fetched.buffer,
            imageWidth: config.image.width,
            imageHeight: config.image.height,
            encoderInputSize: manifest.encoder_input_size || SAM_TARGET_LENGTH,
          },
          [fetched.buffer],
        );
        markPhases(stored.phases);
        embeddingKey = key;
        status.embedding.dataset["status"] = "ready";
        status.embedding.textContent = "embedding: ready";
        root.dataset["embedding"] = "ready";
        return;
      }
      const state = await api.embeddingStatus(config.image.id);
      status.embedding.dataset["status"] = state.status;
      status.embedding.textContent = `embedding: ${state.status}${state.error ? ` (${state.error})` : ""} — the polygon tool works meanwhile`;
      if (state.status === "failed") {
        throw new Error(`the embedding failed: ${state.error ?? "unknown error"}`);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 1000 + attempt * 500)));
    }
  }
}

function wireToolbar(app: AnnotatorApp): void {
  for (const button of document.querySelectorAll<HTMLButtonElement>("button[data-tool]")) {
    button.addEventListener("click", () => app.setTool(button.dataset["tool"] as ToolName));
  }
  const labelSelect = byId<HTMLSelectElement>("label-class");
  labelSelect.addEventListener("change", () => app.setLabelClass(Number(labelSelect.value)));
  const opacity = byId<HTMLInputElement>("opacity");
  opacity.addEventListener("input", () => {
    app.opacity = Number(opacity.value);
    app.changed();
  });
  const detail = byId<HTMLInputElement>("detail");
  detail.addEventListener("input", () => (app.detail = Number(detail.value)));
  const show = byId<HTMLInputElement>("show-annotations");
  show.addEventListener("change", () => {
    app.showAnnotations = show.checked;
    app.changed();
  });
  byId("fit-view").addEventListener("click", () => app.fit());
  byId("help-button").addEventListener("click", () => (byId("help-overlay").hidden = !byId("help-overlay").hidden));
  const sync = (): void => {
    for (const button of document.querySelectorAll<HTMLButtonElement>("button[data-tool]")) {
      button.classList.toggle("active", button.dataset["tool"] === app.tool);
    }
    labelSelect.value = String(app.labelClass);
    show.checked = app.showAnnotations;
  };
  app.store.subscribe(sync);
  window.addEventListener("keyup", sync);
  window.addEventListener("click", sync);
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start, { once: true });
} else {
  start();
}
