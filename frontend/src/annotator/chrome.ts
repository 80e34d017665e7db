/**
 * The annotator page's chrome around the canvas: the toolbar (tool buttons made from
 * tools/registry.ts, label class, opacity, detail, show, fit, help), the status line of the SAM
 * candidate, and the root's data-* attributes the tests and the benchmark read.
 */
import { benchRecord } from "../sam/bench";
import type { SamSession } from "../sam/session";
import type { DocumentStore } from "../state/document";
import type { AnnotatorApp } from "../tools/annotatorApp";
import { TOOLS } from "../tools/registry";

const byId = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

/** Tool buttons, controls and their sync with the UI state; listeners end with `signal`. */
export function wireToolbar(root: HTMLElement, app: AnnotatorApp, signal: AbortSignal): void {
  const group = root.querySelector<HTMLElement>(".tools");
  group?.replaceChildren(...TOOLS.map((tool) => {
    const button = document.createElement("button");
    button.type = "button";
    button.className = "tool";
    button.dataset["tool"] = tool.name;
    button.dataset["creates"] = String(tool.creates);
    button.title = tool.title;
    button.textContent = tool.label;
    button.addEventListener("click", () => app.setTool(tool.name));
    return button;
  }));
  const labelSelect = byId<HTMLSelectElement>("label-class");
  labelSelect.addEventListener("change", () => {
    app.setLabelClass(Number(labelSelect.value));
    labelSelect.blur(); // picked: the keys are the canvas's again (a focused select eats digits)
  });
  // A button clicked with the mouse gives the focus back, so Space / Enter never press it again.
  root.querySelector(".annotator-bar")?.addEventListener("click", (event) => {
    const button = (event.target as HTMLElement).closest("button");
    if (button !== null && (event as MouseEvent).detail > 0) {
      button.blur();
    }
  });
  const panelToggle = root.querySelector<HTMLButtonElement>("#panel-toggle");
  panelToggle?.addEventListener("click", () => app.ui.set({ panelOpen: !app.ui.state.panelOpen }));
  const opacity = byId<HTMLInputElement>("opacity");
  opacity.addEventListener("input", () => app.ui.set({ opacity: Number(opacity.value) }));
  const detail = byId<HTMLInputElement>("detail");
  detail.addEventListener("input", () => app.ui.set({ detail: Number(detail.value) }));
  const show = byId<HTMLInputElement>("show-annotations");
  show.addEventListener("change", () => app.ui.set({ showAnnotations: show.checked }));
  byId("fit-view").addEventListener("click", () => app.fit());
  byId("help-button").addEventListener("click", () => app.ui.set({ helpOpen: !app.ui.state.helpOpen }));
  const sync = (): void => {
    if (signal.aborted) {
      return; // the store of an image left behind: the toolbar on screen is another image's
    }
    for (const button of root.querySelectorAll<HTMLButtonElement>("button[data-tool]")) {
      button.classList.toggle("active", button.dataset["tool"] === app.tool);
    }
    labelSelect.value = String(app.labelClass);
    show.checked = app.ui.state.showAnnotations;
    const { panelOpen } = app.ui.state;
    if (root.dataset["panel"] !== (panelOpen ? "open" : "closed")) {
      root.dataset["panel"] = panelOpen ? "open" : "closed";
      panelToggle?.setAttribute("aria-expanded", String(panelOpen));
      savePanelOpen(panelOpen);
      app.resize(); // the stage changed width: the canvas follows at once
    }
  };
  sync();
  const unsubscribe = [app.ui.subscribe(sync), app.store.subscribe(sync)];
  signal.addEventListener("abort", () => unsubscribe.forEach((stop) => stop()));
}

/**
 * Updates after every change: the candidate status line, the root's data-* attributes, the list,
 * and (benchmark) the time the frame drawing a new mask ran.
 */
export function chromeUpdater(root: HTMLElement, deps: {
  readonly app: () => AnnotatorApp | null;
  readonly sam: SamSession;
  readonly store: DocumentStore;
  readonly candidate: HTMLElement;
  readonly signal: AbortSignal;
  renderList(): void;
}): () => void {
  const bench = benchRecord();
  let benchShown: unknown = null;
  let benchStart = 0;
  if (bench !== undefined) {
    byId("canvas").addEventListener("pointerdown", (e) => (benchStart = e.timeStamp), { capture: true });
  }
  const { sam, store, candidate, signal } = deps;
  return () => {
    const app = deps.app();
    if (signal.aborted || app === null) {
      return; // a late result for the image left behind
    }
    const shown = sam.shown;
    if (bench !== undefined && sam.result !== null && sam.result !== benchShown) {
      const start = benchStart;
      const decodeMs = sam.result.decodeMs;
      // After changed() has queued the app's draw frame, so this frame callback runs after the draw.
      queueMicrotask(() => requestAnimationFrame(() => bench.clicks.push({ start, drawn: performance.now(), decodeMs })));
    }
    benchShown = sam.result;
    candidate.textContent = shown
      ? `mask ${shown.candidates.indexOf(shown.index) + 1}/${shown.candidates.length} · predicted IoU ${shown.iou.toFixed(3)}${shown.candidates.length > 1 ? " (Tab for others)" : ""}`
      : "";
    if (app.acceptPending) {
      candidate.textContent = "saving this object as soon as its mask is decoded…";
    }
    // The mask shown is an older prompt's while a click decodes; an Enter meanwhile waits for it.
    root.dataset["samDecoding"] = String(sam.decoding);
    // Zero-wait clicks: the resting cursor's mask is decoded; the mask shown came from such a decode.
    root.dataset["hoverReady"] = String(sam.hoverReady);
    root.dataset["maskFromHover"] = String(shown !== null && sam.fromHover);
    root.dataset["acceptPending"] = String(app.acceptPending);
    root.dataset["maskIndex"] = shown ? String(shown.index) : "";
    root.dataset["maskArea"] = shown ? String(shown.mask.reduce((a, b) => a + b, 0)) : "";
    root.dataset["annotationCount"] = String(store.present.annotations.length);
    root.dataset["selected"] = app.selected ?? "";
    root.dataset["tool"] = app.tool;
    deps.renderList();
  };
}

const PANEL_KEY = "annotator.panelOpen";

/** Whether the side panel was open when last left (kept per browser, across images). */
export function savedPanelOpen(): boolean {
  try {
    return window.localStorage.getItem(PANEL_KEY) !== "false";
  } catch {
    return true;
  }
}

function savePanelOpen(open: boolean): void {
  try {
    window.localStorage.setItem(PANEL_KEY, String(open));
  } catch {
    // storage refused (private mode): the panel is open on the next image
  }
}

/**
 * Overlays (the help, and any `[data-overlay]`): Esc closes every open one (and does nothing else:
 * the SAM prompt stays), and so does a pointer press outside them (which then reaches nothing
 * else: no point is added by the click that closes the help).
 */
export function wireOverlays(root: HTMLElement, app: AnnotatorApp, signal: AbortSignal): void {
  const help = byId("help-overlay");
  const showHelp = (): void => void (help.hidden = !app.ui.state.helpOpen);
  const stop = app.ui.subscribe(showHelp);
  signal.addEventListener("abort", stop);
  showHelp();
  const open = (): HTMLElement[] => [...root.querySelectorAll<HTMLElement>("[data-overlay]")].filter((o) => !o.hidden);
  const closeAll = (): void => {
    for (const overlay of open()) {
      overlay.hidden = true;
    }
    app.ui.set({ helpOpen: false });
  };
  window.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && open().length > 0) {
      closeAll();
      event.preventDefault();
      event.stopImmediatePropagation();
    }
  }, { capture: true, signal });
  window.addEventListener("pointerdown", (event) => {
    const target = event.target as Element | null;
    const overlays = open();
    if (overlays.length === 0 || target === null || overlays.some((o) => o.contains(target)) || target.closest("[aria-haspopup]") !== null) {
      return;
    }
    closeAll();
    event.stopPropagation();
    event.preventDefault();
  }, { capture: true, signal });
}
