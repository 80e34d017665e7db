/**
 * A DICOM series in the annotator (docs/dicom.md "Series as a volume"): PageUp / PageDown and the
 * mouse wheel (Ctrl+wheel zooms there) step through the slices in the server's slice order (config.dicom.series) keeping the
 * window/level shown, the slices around the opened one are embedded first, and "propagate" (Shift+P
 * or the button) runs slice propagation from the selected accepted object; propagated drafts on the
 * shown slice are accepted with "Accept drafts" (or all of the run's at once).
 */
import type { DicomConfig, DicomWindow } from "../api/dicom";
import { errorText } from "../api/dicom";
import {
  acceptAnnotation,
  acceptPropagation,
  describeRun,
  pollPropagation,
  seriesAhead,
  startPropagation,
} from "../api/propagation";
import { button } from "../render/dom";

export type Series = DicomConfig["series"];

/** The slice `step` away from the current one, or null past either end. */
export function seriesTarget(series: Series, step: number): number | null {
  const index = series.position + step;
  return index >= 0 && index < series.urls.length ? index : null;
}

/** Wheel deltas -> whole slice steps: a line (deltaMode 1) or a page (2) is one slice, 100 pixels
 * (deltaMode 0, touchpads) are one slice; the remainder carries to the next event. */
export function wheelSteps(deltaY: number, deltaMode: number, carried: number): { steps: number; carried: number } {
  if (deltaMode !== 0) {
    return { steps: Math.sign(deltaY), carried: 0 };
  }
  const total = carried + deltaY;
  const steps = Math.trunc(total / 100);
  return { steps, carried: total - steps * 100 };
}

/** sessionStorage key of the window kept while stepping through one series. */
export const seriesWindowKey = (series: Series): string => `sam-series-window:${series.image_ids[0] ?? "none"}`;

export function parseStoredWindow(text: string | null): DicomWindow | null {
  if (text === null) {
    return null;
  }
  try {
    const value = JSON.parse(text) as Partial<DicomWindow>;
    return typeof value.center === "number" && typeof value.width === "number" && value.width >= 1
      ? { center: value.center, width: value.width }
      : null;
  } catch {
    return null;
  }
}

export interface SeriesHooks {
  readonly imageId: number;
  readonly stage: HTMLElement; // the wheel is taken here
  readonly bar: HTMLElement; // the series controls are appended here
  readonly root: HTMLElement; // gets data-propagation for tests
  /** The window/level control: its window is kept from slice to slice. */
  readonly windowLevel: { window: DicomWindow | null; apply(window: DicomWindow): void } | null;
  navigate(url: string): void;
  /** The selected annotation's server id (null: nothing selected or not saved yet). */
  selectedServerId(): number | null;
  /** The shown slice's annotations as the server has them (proposed drafts among them). */
  proposedHere(): Promise<{ id: number; runId: number | null }[]>;
  reload(): void;
  showError(message: string): void;
  readonly signal?: AbortSignal;
}

export function startSeries(config: DicomConfig, hooks: SeriesHooks): void {
  const series = config.series;
  if (series.urls.length < 2) {
    return;
  }
  const key = seriesWindowKey(series);
  const kept = parseStoredWindow(sessionStorage.getItem(key));
  if (kept !== null && hooks.windowLevel !== null && config.greyscale) {
    hooks.windowLevel.apply(kept);
  }
  void seriesAhead(hooks.imageId).catch(() => undefined); // a hint only: nothing to tell the user

  const go = (step: number): void => {
    const index = seriesTarget(series, step);
    if (index === null) {
      return;
    }
    const shown = hooks.windowLevel?.window ?? null;
    if (shown !== null) {
      sessionStorage.setItem(key, JSON.stringify(shown));
    }
    hooks.navigate(series.urls[index]!);
  };

  const status = document.createElement("span");
  status.id = "series-status";
  status.textContent = `slice ${series.position + 1} / ${series.urls.length}`;
  status.title = "PageUp / PageDown or the mouse wheel: previous / next slice of the series";
  const message = document.createElement("span");
  message.id = "propagation-status";
  hooks.bar.hidden = false;
  hooks.bar.append(
    button("▲", () => go(-1), { id: "slice-prev" }),
    status,
    button("▼", () => go(1), { id: "slice-next" }),
    button("Propagate", () => void propagate(), { id: "propagate" }),
    button("Accept drafts", () => void acceptHere(), { id: "accept-drafts" }),
    message,
  );

  let carried = 0;
  hooks.stage.addEventListener(
    "wheel",
    (e) => {
      if (e.ctrlKey || e.metaKey) {
        return; // Ctrl+wheel (and a touchpad pinch) reaches the canvas: zoom
      }
      // Capture phase at the stage: in a series the wheel steps slices, the canvas never sees it.
      e.preventDefault();
      e.stopPropagation();
      const result = wheelSteps(e.deltaY, e.deltaMode, carried);
      carried = result.carried;
      if (result.steps !== 0) {
        go(result.steps);
      }
    },
    { passive: false, capture: true, ...(hooks.signal ? { signal: hooks.signal } : {}) },
  );
  window.addEventListener(
    "keydown",
    (e) => {
      const target = e.target as HTMLElement | null;
      if (target !== null && ["INPUT", "SELECT", "TEXTAREA"].includes(target.tagName)) {
        return;
      }
      if ((e.key === "PageUp" || e.key === "PageDown") && config.frames <= 1) {
        e.preventDefault(); // a multi-frame file's frames are the window/level bar's
        go(e.key === "PageUp" ? -1 : 1);
      } else if (e.key === "P" && e.shiftKey && !e.ctrlKey && !e.metaKey && !e.altKey) {
        e.preventDefault();
        void propagate();
      }
    },
    hooks.signal ? { signal: hooks.signal } : {},
  );

  async function propagate(): Promise<void> {
    const seed = hooks.selectedServerId();
    if (seed === null) {
      hooks.showError("Select an accepted (saved) object to propagate.");
      return;
    }
    hooks.root.dataset["propagation"] = "running";
    try {
      const started = await startPropagation(seed);
      const run = await pollPropagation(started.id, (r) => (message.textContent = describeRun(r)), {
        ...(hooks.signal ? { signal: hooks.signal } : {}),
      });
      hooks.root.dataset["propagation"] = run.status;
      hooks.root.dataset["propagationRun"] = String(run.id);
    } catch (error) {
      hooks.root.dataset["propagation"] = "failed";
      hooks.showError(`Propagation could not run: ${errorText(error)}`);
    }
  }

  async function acceptHere(): Promise<void> {
    try {
      const drafts = await hooks.proposedHere();
      const runs = new Set(drafts.map((d) => d.runId).filter((id): id is number => id !== null));
      let accepted = 0;
      for (const runId of runs) {
        accepted += (await acceptPropagation(runId)).accepted; // the whole set, every slice
      }
      for (const draft of drafts.filter((d) => d.runId === null)) {
        await acceptAnnotation(draft.id);
        accepted += 1;
      }
      message.textContent = `accepted ${accepted} drafts`;
      hooks.root.dataset["draftsAccepted"] = String(accepted);
    } catch (error) {
      hooks.showError(`Drafts could not be accepted: ${errorText(error)}`);
    }
  }
}
