/**
 * Entry point of the annotator page (templates/annotator/annotate.html): reads the page's config,
 * loads the image, the annotations, the model manifest and the embedding, starts the decoder
 * worker and wires the controller, the autosaver and the status line. Other pages only get marked.
 * Moving to another image (A/D, Prev/Next, DICOM frames, back/forward) happens in place
 * (tools/navigation.ts): the decoder worker, its runtime and sessions live as long as the tab.
 */
import * as api from "./api/annotator";
import { listRuns, listVersions } from "./api/finetuning";
import { modelStatusText } from "./finetune/format";
import { SAM_TARGET_LENGTH } from "./geometry/transforms";
import { DecoderClient } from "./sam/decoderClient";
import { firstClickUrls } from "./sam/firstClick";
import { embeddingFits, embeddingKey as workerKey, modelSwitch, modelTag, type ManifestModelInfo } from "./sam/modelChange";
import { markPhases } from "./sam/phases";
import DecoderWorker from "./sam/decoder.worker?worker&inline";
import { Autosaver, type SaveState } from "./state/autosave";
import { DocumentStore, type AnnotationDoc, type AnnotationSourceName } from "./state/document";
import { AnnotatorApp, newLocalId, type LabelClassInfo, type ToolName } from "./tools/annotatorApp";
import { ReviewPanel, type ReviewConfig } from "./tools/reviewPanel";
import { SamSession } from "./sam/session";
import { WindowLevelControl } from "./tools/windowLevel";
import { fetchAnnotatorPage, swapIn } from "./tools/navigation";
import type { DicomConfig } from "./api/dicom";
import type { ResultFor } from "./sam/messages";

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
  next_image: { id: number; width: number; height: number; url: string } | null;
  ort_runtime_url: string;
  dicom: DicomConfig | null; // window/level and frames of DICOM images (tools/windowLevel.ts)
}

interface BenchRecord {
  clicks: { start: number; drawn: number; decodeMs: number }[];
  ready: number | null;
  /** When the last in-page move to another image started (performance.now()). */
  navigationStart?: number;
}

/** What outlives one image: the decoder worker with its runtime and sessions, for the whole tab. */
interface Tab {
  readonly decoderClient: DecoderClient;
  readonly booted: Promise<ResultFor<"boot">>;
  readonly wasmBase: string;
  readonly threads: number;
  /**
   * Embeddings believed to be in the worker (handed ahead, or loaded), least recent first; at most
   * KEPT. The worker is asked ("touch") before one is relied on, so a wrong belief costs a fetch.
   */
  readonly inWorker: Map<string, Promise<unknown>>;
  /** The image on screen: what leaving waits for, what to stop when leaving, and its URL. */
  current: { readonly settled: (timeoutMs: number) => Promise<boolean>; readonly saver: Autosaver;
             readonly leave: AbortController; readonly url: string } | null;
  moving: boolean;
  /**
   * The project's model the worker last ran (null before the first manifest). The manifest is asked
   * again on every move, so a promoted or rolled-back version is used from the next image on.
   */
  model: ManifestModelInfo | null;
  /** The status line of that model (name, version, measured quality), fetched once per model. */
  modelStatus: { readonly id: number; readonly text: Promise<string> } | null;
  /** Back/forward pressed while a move was under way: followed once it is done. */
  poppedDuringMove: boolean;
}

// The worker keeps 4 images (decoder.worker.ts MAX_IMAGES): previous, current, next and a spare.
const KEPT = 3;
// How long moving to another image waits for pending edits to reach the server.
const SAVE_BEFORE_LEAVING_MS = 10_000;

const byId = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function start(): void {
  document.documentElement.dataset["frontend"] = "ready";
  const root = document.getElementById("annotator-root");
  const configElement = document.getElementById("annotator-config");
  if (root === null || configElement === null) {
    return;
  }
  const config = JSON.parse(configElement.textContent ?? "{}") as PageConfig;
  // The first-mask path starts before the rest of the page is set up: the decoder worker boots its
  // wasm runtime while the manifest and the embedding download (phases: sam/phases.ts marks).
  performance.mark("sam:bundle");
  const decoderClient = new DecoderClient(new DecoderWorker());
  const wasmBase = new URL(config.ort_runtime_url, window.location.href).href;
  const threads = self.crossOriginIsolated ? 2 : 1;
  // ?gpu=off|force: WebGPU is otherwise used when the browser has a real GPU adapter (sam/backend.ts).
  const gpuParam = new URLSearchParams(window.location.search).get("gpu");
  const gpu = gpuParam === "off" || gpuParam === "force" ? gpuParam : "auto";
  const booted = decoderClient.request<"boot">({ type: "boot", wasmBase, threads, gpu });
  booted.catch(() => undefined); // awaited (and reported) in startDecoder
  const tab: Tab = { decoderClient, booted, wasmBase, threads, inWorker: new Map(), current: null, moving: false,
                     model: null, modelStatus: null, poppedDuringMove: false };

  window.addEventListener("unhandledrejection", (event) => showErrorIn(byId("annotator-root"), `Unexpected error: ${String(event.reason)}`));
  window.addEventListener("beforeunload", (event) => {
    const saver = tab.current?.saver;
    if (saver !== undefined && (saver.dirty || saver.state === "error" || saver.state === "conflict")) {
      event.preventDefault();
      // Chrome before 119 shows the leave-page prompt only when returnValue is set.
      // eslint-disable-next-line @typescript-eslint/no-deprecated
      event.returnValue = "";
    }
  });
  window.addEventListener("popstate", () => void moveTo(tab, window.location.href, false));
  // While a move is under way no key reaches the image being left (its edits are being saved).
  window.addEventListener("keydown", (event) => {
    if (tab.moving) {
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, { capture: true });
  void startAnnotator(root, config, tab, window.location.href);
}

function showErrorIn(root: HTMLElement, message: string, kind = "error"): void {
  const banner = root.querySelector<HTMLElement>("#error-banner");
  if (banner !== null) {
    banner.textContent = message;
    banner.hidden = false;
    banner.dataset["kind"] = kind;
  }
  root.dataset["error"] = message;
}

/**
 * Open another image in place: the current image's edits and review actions settle first (when they
 * cannot, the labeler chooses to stay or to leave them), the other page is fetched meanwhile and
 * swapped in. Anything unexpected gets a full page load instead.
 */
async function moveTo(tab: Tab, url: string, push: boolean): Promise<void> {
  if (tab.moving) {
    tab.poppedDuringMove ||= !push;
    return;
  }
  tab.moving = true;
  const leaving = byId("annotator-root");
  leaving.inert = true; // no pointer input on the image being left
  const bench = (window as unknown as { __samBench?: BenchRecord }).__samBench;
  const benchReady = bench?.ready ?? null;
  if (bench !== undefined) {
    bench.navigationStart = performance.now();
    bench.ready = null;
  }
  let moved = false;
  try {
    const pageRequest = fetchAnnotatorPage(url);
    const current = tab.current;
    if (current !== null && !(await current.settled(SAVE_BEFORE_LEAVING_MS)) &&
        !window.confirm("Your changes to this image are not saved yet (see the save status). Leave anyway and lose them?")) {
      if (!push) {
        history.pushState(null, "", current.url); // back/forward: stay on the unsaved image
      }
      showErrorIn(leaving, "Your changes are not saved yet, so this image stays open: see the save status.", "unsaved-move");
      return;
    }
    const page = await pageRequest;
    moved = true;
    if (page === null) {
      window.location.assign(url);
      return;
    }
    current?.leave.abort();
    const root = swapIn(page);
    if (push) {
      history.pushState(null, "", url);
    }
    void startAnnotator(root, JSON.parse(page.configText) as PageConfig, tab, url);
  } finally {
    tab.moving = false;
    if (!moved) {
      leaving.inert = false;
      if (bench !== undefined) {
        bench.ready = benchReady;
      }
    }
    if (tab.poppedDuringMove) {
      tab.poppedDuringMove = false;
      if (tab.current !== null && window.location.href !== tab.current.url) {
        void moveTo(tab, window.location.href, false);
      }
    }
  }
}

/** Note a key as the most recently used (the worker drops the least recent), keeping at most KEPT. */
function remember(tab: Tab, key: string, value: Promise<unknown>): void {
  tab.inWorker.delete(key);
  tab.inWorker.set(key, value);
  while (tab.inWorker.size > KEPT) {
    tab.inWorker.delete(tab.inWorker.keys().next().value as string);
  }
}

async function startAnnotator(root: HTMLElement, config: PageConfig, tab: Tab, url: string): Promise<void> {
  const leave = new AbortController();
  const signal = leave.signal;
  // This image's banner; silent once the page has moved on (late errors of the image left behind).
  const showError = (message: string): void => {
    if (!signal.aborted) {
      showErrorIn(root, message);
    }
  };
  const status = {
    isolation: byId("isolation-status"),
    embedding: byId("embedding-status"),
    decoder: byId("decoder-status"),
    model: byId("model-status"),
    save: byId("save-status"),
    candidate: byId("candidate-status"),
  };
  root.dataset["imageId"] = String(config.image.id);
  const isolated = self.crossOriginIsolated;
  status.isolation.dataset["isolated"] = String(isolated);
  status.isolation.textContent = isolated
    ? "cross-origin isolated: 2 decoder threads"
    : "not cross-origin isolated: the decoder runs on 1 thread (slower)";

  const { decoderClient, booted, wasmBase, threads } = tab;
  const manifestRequest = api.projectModel(config.project.id);
  manifestRequest.catch(() => undefined); // awaited (and reported) in startDecoder
  // Not fetched again when it already reached the worker ahead of time (keys need the manifest).
  let early: ReturnType<typeof api.fetchEmbedding> | null = null;
  const earlyEmbedding = (): ReturnType<typeof api.fetchEmbedding> => {
    early ??= api.fetchEmbedding(config.image.id);
    return early;
  };
  if (![...tab.inWorker.keys()].some((key) => key.startsWith(`${config.image.id}:`))) {
    earlyEmbedding().catch(() => undefined);
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
        void moveTo(tab, url, true);
      }
    },
    toggleHelp: () => (byId("help-overlay").hidden = !byId("help-overlay").hidden),
    replaceGeometry: (localId, polygons, prompts) => review?.replaceGeometry(localId, polygons, prompts),
    signal,
  });
  for (const link of [byId("prev-image"), byId("next-image")]) {
    link?.addEventListener("click", (event) => {
      if (event.button === 0 && !event.ctrlKey && !event.metaKey && !event.shiftKey && !event.altKey) {
        event.preventDefault(); // a plain click moves in place; modified clicks open tabs as usual
        void moveTo(tab, (link as HTMLAnchorElement).href, true);
      }
    });
  }
  const controller = app;

  const saver = new Autosaver(config.image.id, store, {
    onState: (state: SaveState, detail: string) => {
      status.save.dataset["state"] = state;
      status.save.textContent = detail ? `${state}: ${detail}` : state;
      root.dataset["saveState"] = state;
      review?.onSaveState(state);
      const banner = root.querySelector<HTMLElement>("#error-banner");
      if (state === "saved" && banner?.dataset["kind"] === "unsaved-move") {
        banner.hidden = true; // saved after all: moving on works now
      }
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
  tab.current = {
    saver,
    leave,
    url,
    // Leaving waits for a review action in flight (Reopen SAM's replacement, a decision), then saves.
    settled: async (timeoutMs) => {
      const deadline = performance.now() + timeoutMs;
      while (review?.working === true) {
        if (performance.now() > deadline) {
          return false;
        }
        await sleep(25);
      }
      return saver.saveAndWait(Math.max(0, deadline - performance.now()));
    },
  };

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
    if (signal.aborted) {
      return; // a late result for the image left behind
    }
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
    if (controller.acceptPending) {
      status.candidate.textContent = "saving this object as soon as its mask is decoded…";
    }
    // The mask shown is an older prompt's while a click decodes; an Enter meanwhile waits for it.
    root.dataset["samDecoding"] = String(sam.decoding);
    root.dataset["acceptPending"] = String(controller.acceptPending);
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

  wireToolbar(controller, signal);
  if (config.dicom) {
    // The shown image only: the embedding keeps the stored rendition (the project's window).
    new WindowLevelControl(config.dicom, { root, bar: byId("dicom-bar"), stage: byId("stage") }, {
      setImage: (image) => {
        controller.image = image;
        controller.changed();
      },
      showError,
      navigate: (url) => void moveTo(tab, url, true),
      signal,
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
      rejectRest: byId<HTMLButtonElement>("reject-rest"),
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
        if (signal.aborted) {
          return; // the page moved to another image
        }
        status.decoder.dataset["status"] = "preparing";
        status.decoder.textContent = "decoder: being prepared for this model — the polygon tool works meanwhile";
        await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 1000 + attempt * 500)));
        manifest = await api.projectModel(config.project.id);
      }
      const { backend } = await booted;
      if (signal.aborted) {
        return;
      }
      // Another model than on the image before (promoted or rolled back meanwhile): its graphs are
      // loaded by the init below, and the worker's entries prepared by the old decoder are not reused.
      const model: ManifestModelInfo = manifest.model;
      const change = modelSwitch(tab.model, model, tab.inWorker.keys());
      for (const key of change.staleKeys) {
        tab.inWorker.delete(key);
      }
      tab.model = model;
      root.dataset["modelId"] = String(model.id);
      root.dataset["modelChanged"] = String(change.changed);
      showModelStatus(model);
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
      const decoderFile = manifest.decoders[fullVariant] ?? manifest.decoders["fp32"] ?? manifest.decoders["int8"];
      if (decoderFile === undefined) {
        throw new Error("the project's model has no decoder");
      }
      const client = decoderClient;
      const [init] = await Promise.all([
        client.request<"init">({ type: "init", modelUrl: decoderFile.url, wasmBase, threads, firstClick: firstClick ? firstClickUrls(manifest, variant) : null,
          warmUp: new URLSearchParams(window.location.search).get("warmup") === "1", model: modelTag(model) }),
        loadEmbedding(client, manifest),
      ]);
      if (signal.aborted) {
        return;
      }
      markPhases(init.phases);
      performance.mark("sam:ready");
      decoder = client;
      status.decoder.dataset["status"] = "ready";
      const graphs = init.firstClick ? `first-click graph ${variant}, refinement ${fullVariant}` : fullVariant;
      const switched = change.changed ? " (the project's model changed: new decoder loaded)" : "";
      status.decoder.textContent = `decoder: ${manifest.model.name} ${graphs}, ${init.backend} × ${init.threads} threads${switched}`;
      root.dataset["decoder"] = "ready";
      if (bench !== undefined) {
        bench.ready = performance.now();
      }
      controller.changed();
      if (config.next_image !== null) {
        // After a pause, so that the labeler's first click does not queue behind its prep run.
        setTimeout(() => signal.aborted || handAhead(client, manifest, config.next_image!), 1500);
      }
    } catch (error) {
      if (signal.aborted) {
        return;
      }
      status.decoder.dataset["status"] = "error";
      status.decoder.textContent = "decoder: failed";
      showError(`Click-to-segment is unavailable: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  /** The active model's name, version and measured quality (docs/models.md), from its record. */
  function showModelStatus(model: ManifestModelInfo): void {
    if (tab.modelStatus?.id !== model.id) {
      const text = Promise.all([listVersions(config.project.id), listRuns(config.project.id)])
        .then(([versions, runs]) => modelStatusText(versions, runs, model.id) || `model: ${model.name}`);
      tab.modelStatus = { id: model.id, text };
    }
    status.model.dataset["modelId"] = String(model.id);
    status.model.textContent = `model: ${model.name}`;
    tab.modelStatus.text.then(
      (text) => {
        status.model.textContent = text;
        status.model.dataset["builtin"] = String(text.includes("built-in default"));
      },
      () => undefined, // the name alone stays
    );
  }

  /** The next image's embedding into the worker now (parsed, prep graph run), if it is computed. */
  function handAhead(client: DecoderClient, manifest: api.ModelManifest, next: NonNullable<PageConfig["next_image"]>): void {
    // Its picture into the HTTP cache too (private, max-age 3600), so it shows at once on arrival.
    void fetch(next.url, { credentials: "same-origin" }).then((response) => response.blob()).catch(() => undefined);
    const key = workerKey(next.id, manifest.model);
    const already = tab.inWorker.get(key);
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
    remember(tab, key, handed);
    handed.then(
      () => (root.dataset["nextAhead"] = "ready"),
      () => tab.inWorker.delete(key), // not computed yet: fetched when opened
    );
  }

  async function loadEmbedding(client: DecoderClient, manifest: api.ModelManifest): Promise<void> {
    const key = workerKey(config.image.id, manifest.model);
    const ahead = tab.inWorker.get(key);
    // Still in the worker? Touching it also keeps it there longest.
    const found = ahead !== undefined && (await ahead.then(() => true, () => false)) &&
      (await client.request<"touch">({ type: "touch", key })).found;
    if (signal.aborted) {
      return;
    }
    if (found) {
      remember(tab, key, ahead);
      performance.mark("sam:embedding-ahead");
      embeddingKey = key;
      status.embedding.dataset["status"] = "ready";
      status.embedding.textContent = "embedding: ready";
      root.dataset["embedding"] = "ready";
      root.dataset["embeddingAhead"] = "true";
      return;
    }
    tab.inWorker.delete(key);
    for (let attempt = 0; ; attempt += 1) {
      const fetched = attempt === 0 ? await earlyEmbedding() : await api.fetchEmbedding(config.image.id);
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
            type: "embedding",
            key,
            buffer: fetched.buffer,
            imageWidth: config.image.width,
            imageHeight: config.image.height,
            encoderInputSize: manifest.encoder_input_size || SAM_TARGET_LENGTH,
            model: modelTag(manifest.model),
          },
          [fetched.buffer],
        );
        markPhases(stored.phases);
        remember(tab, key, Promise.resolve()); // now in the worker: coming back here needs no fetch
        embeddingKey = key;
        status.embedding.dataset["status"] = "ready";
        status.embedding.textContent = "embedding: ready";
        root.dataset["embedding"] = "ready";
        return;
      }
      const state = await api.embeddingStatus(config.image.id);
      if (signal.aborted) {
        return;
      }
      status.embedding.dataset["status"] = state.status;
      status.embedding.textContent = `embedding: ${state.status}${state.error ? ` (${state.error})` : ""} — the polygon tool works meanwhile`;
      if (state.status === "failed") {
        throw new Error(`the embedding failed: ${state.error ?? "unknown error"}`);
      }
      await new Promise((resolve) => setTimeout(resolve, Math.min(5000, 1000 + attempt * 500)));
    }
  }
}

function wireToolbar(app: AnnotatorApp, signal: AbortSignal): void {
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
    if (signal.aborted) {
      return; // the store of an image left behind: the toolbar on screen is another image's
    }
    for (const button of document.querySelectorAll<HTMLButtonElement>("button[data-tool]")) {
      button.classList.toggle("active", button.dataset["tool"] === app.tool);
    }
    labelSelect.value = String(app.labelClass);
    show.checked = app.showAnnotations;
  };
  app.store.subscribe(sync);
  window.addEventListener("keyup", sync, { signal });
  window.addEventListener("click", sync, { signal });
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start, { once: true });
} else {
  start();
}
