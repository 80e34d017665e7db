/**
 * One image in the annotator page: the document, UI state, autosaver, canvas host, review panel,
 * DICOM window/level, and this image's SAM runtime part (sam/runtime.ts). Started by main.ts on
 * page load and again after every in-place move; everything here ends with `leave`'s signal.
 */
import * as api from "../api/annotator";
import type { Rle } from "../geometry/rle";
import type { DicomConfig } from "../api/dicom";
import { ImageSam, SamRuntime } from "../sam/runtime";
import { SamSession } from "../sam/session";
import { Autosaver, type SaveState } from "../state/autosave";
import { DocumentStore, type AnnotationDoc, type AnnotationSourceName } from "../state/document";
import { UiStore } from "../state/uiStore";
import { AnnotatorApp, newLocalId, type LabelClassInfo } from "../tools/annotatorApp";
import { ReviewPanel, type ReviewConfig } from "../tools/reviewPanel";
import { startSeries } from "../tools/series";
import { WindowLevelControl } from "../tools/windowLevel";
import { chromeUpdater, savedPanelOpen, wireOverlays, wireToolbar } from "./chrome";
import { showImageList } from "./imageList";

export interface PageConfig {
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

/** What the tab needs of the image on screen: what leaving waits for, what it stops, its URL. */
export interface OpenImage {
  readonly settled: (timeoutMs: number) => Promise<boolean>;
  readonly saver: Autosaver;
  readonly leave: AbortController;
  readonly url: string;
}

export interface PageHooks {
  /** Move to another image's page in place (main.ts moveTo). */
  moveTo(url: string): void;
  showErrorIn(root: HTMLElement, message: string, kind?: string): void;
}

const byId = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export function openImage(root: HTMLElement, config: PageConfig, runtime: SamRuntime, url: string, hooks: PageHooks): OpenImage {
  const leave = new AbortController();
  const signal = leave.signal;
  // This image's banner; silent once the page has moved on (late errors of the image left behind).
  const showError = (message: string): void => {
    if (!signal.aborted) {
      hooks.showErrorIn(root, message);
    }
  };
  root.dataset["imageId"] = String(config.image.id);
  const isolation = byId("isolation-status");
  isolation.dataset["isolated"] = String(self.crossOriginIsolated);
  isolation.textContent = self.crossOriginIsolated
    ? "cross-origin isolated: 2 decoder threads"
    : "not cross-origin isolated: the decoder runs on 1 thread (slower)";

  let app: AnnotatorApp | null = null;
  let review: ReviewPanel | null = null;
  // The decoder and embedding start at once, beside the annotations' fetch (first mask sooner).
  const imageSam: ImageSam = runtime.open({
    image: config.image, projectId: config.project.id, nextImage: config.next_image, root, signal, showError,
    status: { embedding: byId("embedding-status"), decoder: byId("decoder-status"), model: byId("model-status") },
    onReady: () => app?.changed(),
  });
  const store = new DocumentStore();
  const sam = new SamSession(() => imageSam.decoder, () => imageSam.embeddingKey, () => app?.changed(), showError);
  const updateChrome = chromeUpdater(root, {
    app: () => app, sam, store, candidate: byId("candidate-status"), signal, renderList: () => review?.render(),
  });
  const ui = new UiStore({ labelClass: config.label_classes[0]?.id ?? 0, panelOpen: savedPanelOpen() });
  const toggleHelp = (): void => ui.set({ helpOpen: !ui.state.helpOpen });
  app = new AnnotatorApp(byId<HTMLCanvasElement>("canvas"), store, sam, config.label_classes, config.image, {
    onChange: () => updateChrome(),
    navigate: (step) => {
      const target = step < 0 ? config.previous_url : config.next_url;
      if (target !== null) {
        hooks.moveTo(target);
      }
    },
    toggleHelp,
    replaceGeometry: (localId, polygons, prompts) => review?.replaceGeometry(localId, polygons, prompts),
    signal,
  }, ui);
  const controller = app;
  for (const link of [byId("prev-image"), byId("next-image")]) {
    link?.addEventListener("click", (event) => {
      if (event.button === 0 && !event.ctrlKey && !event.metaKey && !event.shiftKey && !event.altKey) {
        event.preventDefault(); // a plain click moves in place; modified clicks open tabs as usual
        hooks.moveTo((link as HTMLAnchorElement).href);
      }
    });
  }

  const saver = new Autosaver(config.image.id, store, {
    onState: (state: SaveState, detail: string) => {
      const element = byId("save-status");
      element.dataset["state"] = state;
      element.textContent = detail ? `${state}: ${detail}` : state;
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
  controller.autosaver = saver;

  wireToolbar(root, controller, signal);
  wireOverlays(root, controller, signal);
  if (config.dicom) {
    // The shown image only: the embedding keeps the stored rendition (the project's window).
    const windowLevel = new WindowLevelControl(config.dicom, { root, bar: byId("dicom-bar"), stage: byId("stage") }, {
      setImage: (image) => {
        controller.image = image;
        controller.changed();
      },
      showError,
      navigate: (target) => hooks.moveTo(target),
      signal,
    });
    // Series hook (tools/series.ts): slice stepping with the window kept, embeddings ahead, propagation.
    startSeries(config.dicom, {
      imageId: config.image.id, stage: byId("stage"), bar: byId("dicom-bar"), root, windowLevel, signal, showError,
      navigate: (target) => hooks.moveTo(target),
      selectedServerId: () => (controller.selected === null ? null : saver.serverIdOf(controller.selected) ?? null),
      proposedHere: async () =>
        (await api.listAnnotations(config.image.id)).filter((a) => a.proposed).map((a) => ({
          id: a.id, runId: typeof a.prompts["propagation_run"] === "number" ? a.prompts["propagation_run"] : null,
        })),
      reload: () => hooks.moveTo(window.location.href),
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
  const panel = review;

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
  void loadAnnotations();
  showImageList(byId("image-list"), config.project.id, config.image.id, (target) => hooks.moveTo(target), signal);

  async function loadAnnotations(): Promise<void> {
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
          vertexCount: server.vertex_count ?? 0,
          strokeCount: server.stroke_count ?? 0,
          // Boxes keep their box; a mask keeps its RLE, the mask of record brushes start from.
          ...(server.kind === "box" ? { kind: "box" as const, bbox: server.bbox as [number, number, number, number] } : {}),
          ...(server.kind !== "box" && server.rle ? { rle: { rle: server.rle as Rle, polygons: server.polygons } } : {}),
        };
        saver.adopt(doc.localId, server);
        return doc;
      });
      store.replaceSilently({ annotations: docs });
      panel.load(existing);
      root.dataset["annotationsLoaded"] = "true";
    } catch (error) {
      showError(`Annotations could not be loaded: ${String(error)}`);
    }
  }

  return {
    saver,
    leave,
    url,
    // Leaving waits for a review action in flight (Reopen SAM's replacement, a decision), then saves.
    settled: async (timeoutMs) => {
      const deadline = performance.now() + timeoutMs;
      while (panel.working) {
        if (performance.now() > deadline) {
          return false;
        }
        await sleep(25);
      }
      return saver.saveAndWait(Math.max(0, deadline - performance.now()));
    },
  };
}
