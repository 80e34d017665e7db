/**
 * Entry point of the annotator page (templates/annotator/annotate.html): starts the tab's SAM
 * runtime (decoder worker, sam/runtime.ts) in the first lines, opens the image (annotator/openImage.ts)
 * and moves between images in place (tools/navigation.ts): the decoder worker, its runtime and
 * sessions live as long as the tab. Other pages only get marked.
 */
import { openImage, type OpenImage, type PageConfig } from "./annotator/openImage";
import { benchRecord } from "./sam/bench";
import { SamRuntime } from "./sam/runtime";
import { fetchAnnotatorPage, swapIn } from "./tools/navigation";

/** What outlives one image: the SAM runtime, and the image on screen. */
interface Tab {
  readonly runtime: SamRuntime;
  current: OpenImage | null;
  moving: boolean;
  /** Back/forward pressed while a move was under way: followed once it is done. */
  poppedDuringMove: boolean;
}

// How long moving to another image waits for pending edits to reach the server.
const SAVE_BEFORE_LEAVING_MS = 10_000;

const byId = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

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
  const tab: Tab = { runtime: new SamRuntime(config.ort_runtime_url), current: null, moving: false, poppedDuringMove: false };

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
  open(tab, root, config, window.location.href);
}

function open(tab: Tab, root: HTMLElement, config: PageConfig, url: string): void {
  tab.current = openImage(root, config, tab.runtime, url, { moveTo: (target) => void moveTo(tab, target, true), showErrorIn });
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
  const bench = benchRecord();
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
    open(tab, root, JSON.parse(page.configText) as PageConfig, url);
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

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", start, { once: true });
} else {
  start();
}
