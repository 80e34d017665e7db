/**
 * Window/level of a DICOM image in the annotator: the values shown, a presets menu (the rendition's
 * window, the file's, the modality's presets, custom), keys ([ ] width, ; ' level), Shift+right-drag
 * (right click alone stays SAM's negative point: the drag is taken at the stage in the capture phase,
 * before the canvas sees it), frames of a multi-frame file (PageUp / PageDown), and for managers
 * "Use this window for the project".
 *
 * The shown image is a PNG rendered by the server from the stored original (api/dicom.ts); the SAM
 * embedding keeps using the stored rendition (the project's window), which the bar says.
 */
import { errorText, renderWindow, setProjectWindow, type DicomConfig, type DicomWindow } from "../api/dicom";
import { button } from "../render/dom";

/** Width and level steps of one key press: a tenth / a twentieth of the width, at least 1. */
export function keyStep(window: DicomWindow, key: string): DicomWindow | null {
  const widthStep = Math.max(1, Math.round(window.width * 0.1));
  const levelStep = Math.max(1, Math.round(window.width * 0.05));
  switch (key) {
    case "[":
      return clampWindow({ center: window.center, width: window.width - widthStep });
    case "]":
      return clampWindow({ center: window.center, width: window.width + widthStep });
    case ";":
      return clampWindow({ center: window.center - levelStep, width: window.width });
    case "'":
      return clampWindow({ center: window.center + levelStep, width: window.width });
    default:
      return null;
  }
}

/** A drag of (dx, dy) screen pixels from `start`: right widens, down raises the level (darker);
 * one pixel moves by 1/256 of the starting width (at least 1), so any window is a few drags away. */
export function dragWindow(start: DicomWindow, dx: number, dy: number): DicomWindow {
  const perPixel = Math.max(1, start.width / 256);
  return clampWindow({ center: start.center + dy * perPixel, width: start.width + dx * perPixel });
}

/** Whole numbers, width at least 1 (the server refuses less). */
export function clampWindow(window: DicomWindow): DicomWindow {
  return { center: Math.round(window.center), width: Math.max(1, Math.round(window.width)) };
}

export const formatWindow = (window: DicomWindow | null): string =>
  window === null ? "—" : `C ${round1(window.center)} / W ${round1(window.width)}`;

export const sameWindow = (a: DicomWindow | null, b: DicomWindow | null): boolean =>
  a !== null && b !== null && Math.abs(a.center - b.center) < 1e-6 && Math.abs(a.width - b.width) < 1e-6;

export interface MenuEntry {
  readonly value: string;
  readonly label: string;
  readonly window: DicomWindow | null; // null: "custom…"
}

/** The presets menu: what SAM sees, the file's own window, the modality's presets, custom. */
export function presetMenu(config: DicomConfig): MenuEntry[] {
  const entries: MenuEntry[] = [];
  if (config.window !== null) {
    const source = config.window_source === "requested" ? "project" : "file";
    entries.push({ value: "rendition", label: `${source} (SAM): ${formatWindow(config.window)}`, window: config.window });
  }
  if (config.file_window !== null && !sameWindow(config.file_window, config.window)) {
    entries.push({ value: "file", label: `file: ${formatWindow(config.file_window)}`, window: config.file_window });
  }
  for (const preset of config.presets) {
    entries.push({
      value: `preset:${preset.name}`,
      label: `${config.modality} ${preset.name}: ${formatWindow(preset)}`,
      window: { center: preset.center, width: preset.width },
    });
  }
  entries.push({ value: "custom", label: "custom…", window: null });
  return entries;
}

export interface WindowLevelElements {
  readonly root: HTMLElement; // gets data-window and data-window-rendered for tests and styling
  readonly bar: HTMLElement; // filled by this class
  readonly stage: HTMLElement; // the canvas's parent: Shift+right-drag is taken here
}

export class WindowLevelControl {
  window: DicomWindow | null;
  private readonly values = document.createElement("span");
  private readonly samNote = document.createElement("span");
  private readonly menu = document.createElement("select");
  private readonly customCenter = numberInput("window-center", "Center");
  private readonly customWidth = numberInput("window-width", "Width");
  private readonly useButton = document.createElement("button");
  private readonly message = document.createElement("span");
  private drag: { x: number; y: number; start: DicomWindow; pointerId: number } | null = null;
  private inFlight = false;
  private pending: DicomWindow | null = null;
  private shownUrl: string | null = null;

  constructor(
    private readonly config: DicomConfig,
    private readonly elements: WindowLevelElements,
    private readonly hooks: {
      setImage(image: HTMLImageElement): void;
      showError(message: string): void;
      /** Open another frame's image (the page moves in place); a full page load without it. */
      navigate?(url: string): void;
      /** Aborted when the page moves to another image: the window listener goes with it. */
      signal?: AbortSignal;
    },
  ) {
    this.window = config.window;
    this.build();
    if (config.greyscale && config.window !== null) {
      this.bindPointer();
    }
    window.addEventListener("keydown", (e) => this.onKeyDown(e), hooks.signal === undefined ? {} : { signal: hooks.signal });
    hooks.signal?.addEventListener("abort", () => {
      if (this.shownUrl !== null) {
        URL.revokeObjectURL(this.shownUrl); // the page moved on: the rendered window's pixels go
        this.shownUrl = null;
      }
    });
    this.update();
  }

  /** Show this window: the values at once, the image when the server has rendered it. */
  apply(next: DicomWindow): void {
    this.window = clampWindow(next);
    this.update();
    this.pending = this.window;
    void this.flush();
  }

  private build(): void {
    const bar = this.elements.bar;
    bar.hidden = false;
    bar.replaceChildren();
    if (this.config.frames > 1) {
      const frame = document.createElement("span");
      frame.id = "frame-status";
      frame.textContent = `frame ${this.config.frame_position + 1} / ${this.config.frame_urls.length}`;
      frame.title = "PageUp / PageDown: previous / next frame of this file";
      bar.append(button("◀", () => this.stepFrame(-1), { id: "frame-prev" }), frame, button("▶", () => this.stepFrame(1), { id: "frame-next" }));
    }
    if (!this.config.greyscale || this.config.window === null) {
      return; // colour and palette images have no window
    }
    this.values.id = "window-values";
    this.values.title = "[ ] width, ; ' level, Shift+right-drag";
    this.menu.id = "window-preset";
    this.menu.title = "Window presets";
    for (const entry of presetMenu(this.config)) {
      const option = document.createElement("option");
      option.value = entry.value;
      option.textContent = entry.label;
      this.menu.append(option);
    }
    this.menu.addEventListener("change", () => this.onMenu());
    const custom = document.createElement("span");
    custom.className = "window-custom";
    custom.hidden = true;
    custom.append(this.customCenter.label, this.customWidth.label);
    for (const input of [this.customCenter.input, this.customWidth.input]) {
      input.addEventListener("change", () => {
        const center = Number(this.customCenter.input.value);
        const width = Number(this.customWidth.input.value);
        if (Number.isFinite(center) && Number.isFinite(width) && width >= 1) {
          this.apply({ center, width });
        } else {
          this.message.textContent = "width must be a number ≥ 1";
        }
      });
    }
    this.samNote.id = "window-sam-note";
    this.message.id = "window-message";
    bar.append(this.values, this.menu, custom, this.samNote);
    if (this.config.can_manage) {
      this.useButton.id = "window-use-for-project";
      this.useButton.type = "button";
      this.useButton.textContent = "Use this window for the project";
      this.useButton.title = "Re-render every DICOM image of the project with this window and recompute their embeddings";
      this.useButton.addEventListener("click", () => void this.useForProject());
      bar.append(this.useButton);
    }
    bar.append(this.message);
  }

  private onMenu(): void {
    const entry = presetMenu(this.config).find((e) => e.value === this.menu.value);
    const custom = this.elements.bar.querySelector<HTMLElement>(".window-custom");
    if (custom !== null) {
      custom.hidden = entry?.window !== null;
    }
    if (entry?.window != null) {
      this.apply(entry.window);
    } else if (this.window !== null) {
      this.customCenter.input.value = String(this.window.center);
      this.customWidth.input.value = String(this.window.width);
    }
  }

  private update(): void {
    const shown = this.window;
    this.values.textContent = formatWindow(shown);
    this.elements.root.dataset["window"] = shown === null ? "" : `${shown.center}/${shown.width}`;
    const differs = !sameWindow(shown, this.config.window);
    this.samNote.textContent = differs
      ? `SAM still uses the ${this.config.window_source === "requested" ? "project's" : "file's"} window ${formatWindow(this.config.window)}`
      : "SAM sees this window";
    this.samNote.classList.toggle("window-differs", differs);
    this.useButton.disabled = !differs;
  }

  /** One render request at a time; the latest wanted window wins (bursts of keys or drags merge). */
  private async flush(): Promise<void> {
    if (this.inFlight || this.pending === null) {
      return;
    }
    const wanted = this.pending;
    this.pending = null;
    this.inFlight = true;
    try {
      const blob = await renderWindow(this.config.render_url, wanted);
      const url = URL.createObjectURL(blob);
      const image = new Image();
      image.src = url;
      await image.decode();
      this.hooks.setImage(image);
      if (this.shownUrl !== null) {
        URL.revokeObjectURL(this.shownUrl);
      }
      this.shownUrl = url;
      this.elements.root.dataset["windowRendered"] = `${wanted.center}/${wanted.width}`;
      this.message.textContent = "";
    } catch (error) {
      this.hooks.showError(`The window could not be applied: ${errorText(error)}`);
    } finally {
      this.inFlight = false;
    }
    void this.flush();
  }

  private async useForProject(): Promise<void> {
    if (this.window === null) {
      return;
    }
    this.useButton.disabled = true;
    try {
      await setProjectWindow(this.config.project_api_url, this.window);
      this.message.textContent =
        "Project window set: the project's DICOM images are being re-rendered and re-embedded (see the project page); reload this page when done.";
      this.elements.root.dataset["projectWindow"] = `${this.window.center}/${this.window.width}`;
    } catch (error) {
      this.useButton.disabled = false;
      this.hooks.showError(`The project's window could not be set: ${errorText(error)}`);
    }
  }

  private stepFrame(step: number): boolean {
    const url = this.config.frame_urls[this.config.frame_position + step];
    if (url === undefined) {
      return false;
    }
    if (this.hooks.navigate !== undefined) {
      this.hooks.navigate(url);
    } else {
      window.location.assign(url);
    }
    return true;
  }

  private onKeyDown(e: KeyboardEvent): void {
    const target = e.target as HTMLElement | null;
    if (target !== null && ["INPUT", "SELECT", "TEXTAREA"].includes(target.tagName)) {
      return;
    }
    if (e.ctrlKey || e.metaKey || e.altKey) {
      return;
    }
    if (e.key === "PageUp" || e.key === "PageDown") {
      if (this.config.frames > 1) {
        e.preventDefault();
        this.stepFrame(e.key === "PageUp" ? -1 : 1);
      }
      return;
    }
    if (this.window === null || !this.config.greyscale) {
      return;
    }
    const next = keyStep(this.window, e.key);
    if (next !== null) {
      e.preventDefault();
      this.apply(next);
    }
  }

  private bindPointer(): void {
    const stage = this.elements.stage;
    // Capture phase at the stage: runs before the canvas's own listeners, which never see this drag.
    stage.addEventListener(
      "pointerdown",
      (e) => {
        if (e.button === 2 && e.shiftKey && this.window !== null) {
          e.stopPropagation();
          e.preventDefault();
          this.drag = { x: e.clientX, y: e.clientY, start: this.window, pointerId: e.pointerId };
          stage.setPointerCapture(e.pointerId);
        }
      },
      { capture: true },
    );
    stage.addEventListener(
      "pointermove",
      (e) => {
        if (this.drag !== null) {
          e.stopPropagation();
          this.apply(dragWindow(this.drag.start, e.clientX - this.drag.x, e.clientY - this.drag.y));
        }
      },
      { capture: true },
    );
    const end = (e: PointerEvent): void => {
      if (this.drag !== null) {
        e.stopPropagation();
        if (stage.hasPointerCapture(this.drag.pointerId)) {
          stage.releasePointerCapture(this.drag.pointerId);
        }
        this.drag = null;
      }
    };
    stage.addEventListener("pointerup", end, { capture: true });
    stage.addEventListener("pointercancel", end, { capture: true });
    stage.addEventListener("contextmenu", (e) => e.preventDefault());
  }
}

function numberInput(id: string, text: string): { label: HTMLLabelElement; input: HTMLInputElement } {
  const label = document.createElement("label");
  const input = document.createElement("input");
  input.id = id;
  input.type = "number";
  input.step = "1";
  label.append(`${text} `, input);
  return { label, input };
}

const round1 = (value: number): number => Math.round(value * 10) / 10;
