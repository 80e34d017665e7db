/**
 * The canvas host of the annotator page: owns the view (zoom, pan), draws a frame when something
 * changed (render/draw.ts), and hands pointer events and keys to the active tool (tools/tool.ts,
 * registered in tools/registry.ts). Keys no tool takes (GLOBAL_KEYS) do the same in every tool.
 * UI state (tool, selection, hidden/locked, label class, display settings) lives in the UiStore;
 * loading (image, annotations, model, embedding) lives in annotator/openImage.ts.
 */
import { fitView, panBy, screenToImage, zoomAt, type Point, type View } from "../geometry/transforms";
import { drawFrame, maskCanvas } from "../render/draw";
import type { SamSession } from "../sam/session";
import type { Autosaver } from "../state/autosave";
import type { AnnotationDoc, DocumentStore } from "../state/document";
import { UiStore } from "../state/uiStore";
import { hitVertex } from "./polygonEdit";
import { GLOBAL_KEYS, TOOLS, toolByKey, type GlobalAction } from "./registry";
import { removeVertex } from "./selectTool";
import { HIT_PX, type EditPermissions, type LabelClassInfo, type Tool, type ToolContext, type ToolOverlay, type ToolPoint } from "./tool";

export type { EditPermissions, LabelClassInfo } from "./tool";
export type ToolName = string;

let localCounter = 0;
export const newLocalId = (): string => `local-${Date.now().toString(36)}-${(localCounter += 1)}`;

type MaskImage = NonNullable<ToolOverlay["mask"]>;

export class AnnotatorApp {
  view: View = { zoom: 1, panX: 0, panY: 0 };
  image: HTMLImageElement | null = null;
  permissions: EditPermissions = { create: true, edit: true, delete: true };
  autosaver: Autosaver | null = null;
  readonly ui: UiStore;
  private readonly tools = new Map<string, Tool>();
  private active: Tool;
  private readonly ctx: ToolContext;
  private cursor: Point | null = null;
  private spaceHeld = false;
  private panning: Point | null = null;
  private frameRequested = false;
  /** The view is the fit view (no zoom or pan since): a resize fits again. */
  private fitted = false;
  private readonly masks = new Map<"mask" | "hover", { source: Uint8Array; color: string; canvas: HTMLCanvasElement }>();

  constructor(
    private readonly canvas: HTMLCanvasElement,
    readonly store: DocumentStore,
    readonly sam: SamSession,
    readonly labelClasses: readonly LabelClassInfo[],
    private readonly imageSize: { width: number; height: number },
    private readonly hooks: {
      onChange(): void;
      navigate(step: number): void;
      toggleHelp(): void;
      /** Enter on a reopened SAM session: the new mask replaces that annotation's geometry. */
      replaceGeometry?(localId: string, polygons: AnnotationDoc["polygons"], prompts: Record<string, unknown>): void;
      /** Aborted when the page moves to another image in place: window listeners go with it. */
      signal?: AbortSignal;
    },
    ui?: UiStore,
  ) {
    this.ui = ui ?? new UiStore({ labelClass: labelClasses[0]?.id ?? 0 });
    this.ctx = {
      ui: this.ui,
      document: store,
      sam,
      labelClasses,
      imageSize,
      canvas,
      view: () => this.view,
      permissions: () => this.permissions,
      autosaver: () => this.autosaver,
      changed: () => this.changed(),
      colorOf: (labelClass) => this.colorOf(labelClass),
      newLocalId,
      replaceGeometry: (localId, polygons, prompts) => hooks.replaceGeometry?.(localId, polygons, prompts),
    };
    for (const registration of TOOLS) {
      this.tools.set(registration.name, registration.create());
    }
    this.active = this.tools.get(this.ui.state.tool) ?? this.tools.values().next().value!;
    this.active.activate(this.ctx);
    store.subscribe(() => {
      this.ui.retain(new Set(store.present.annotations.map((a) => a.localId)));
      this.changed();
    });
    this.ui.subscribe(() => this.changed());
    canvas.addEventListener("pointerdown", (e) => this.onPointerDown(e));
    canvas.addEventListener("pointermove", (e) => this.onPointerMove(e));
    canvas.addEventListener("pointerup", (e) => this.onPointerUp(e));
    canvas.addEventListener("pointerleave", () => this.active.onPointerLeave?.());
    canvas.addEventListener("contextmenu", (e) => e.preventDefault());
    canvas.addEventListener("wheel", (e) => this.onWheel(e), { passive: false });
    const signal = hooks.signal;
    const untilLeft: AddEventListenerOptions = signal === undefined ? {} : { signal };
    window.addEventListener("keydown", (e) => this.onKeyDown(e), untilLeft);
    window.addEventListener("keyup", (e) => {
      if (e.code === "Space") {
        this.spaceHeld = false;
      }
    }, untilLeft);
    const observer = new ResizeObserver(() => this.resize());
    observer.observe(canvas);
    signal?.addEventListener("abort", () => observer.disconnect());
  }

  get tool(): ToolName {
    return this.active.name;
  }

  /** The active tool instance (tests, the toolbar). */
  get activeTool(): Tool {
    return this.active;
  }

  get selected(): string | null {
    return this.ui.state.selected;
  }

  set selected(localId: string | null) {
    this.ui.set({ selected: localId });
  }

  get reopened(): string | null {
    return this.ui.state.reopened;
  }

  set reopened(localId: string | null) {
    this.ui.set({ reopened: localId });
  }

  get labelClass(): number {
    return this.ui.state.labelClass;
  }

  set labelClass(id: number) {
    this.ui.set({ labelClass: id });
  }

  /** An accept waits for the decode in flight (status line: "saving when the mask lands"). */
  get acceptPending(): boolean {
    return this.active.busy === true;
  }

  changed(): void {
    this.hooks.onChange();
    if (!this.frameRequested) {
      this.frameRequested = true;
      requestAnimationFrame(() => {
        this.frameRequested = false;
        this.draw();
      });
    }
  }

  resize(): void {
    const { clientWidth, clientHeight } = this.canvas;
    if (clientWidth > 0 && clientHeight > 0 && (this.canvas.width !== clientWidth || this.canvas.height !== clientHeight)) {
      const first = this.canvas.width === 300 && this.canvas.height === 150; // the canvas default size
      this.canvas.width = clientWidth;
      this.canvas.height = clientHeight;
      if (first || this.fitted) {
        this.fit(); // still the fit view (not zoomed or panned): stays fitted when the layout changes
      }
      this.changed();
    }
  }

  fit(): void {
    this.fitted = true;
    this.view = fitView(this.imageSize, { width: this.canvas.width, height: this.canvas.height });
    this.changed();
  }

  /** Switch tools (the same name again drops the unfinished work: Submit uses that). */
  setTool(name: ToolName): void {
    const next = this.tools.get(name);
    if (next === undefined) {
      return;
    }
    this.active.cancel();
    this.active.deactivate();
    this.sam.cancel();
    this.active = next;
    this.ui.set({ tool: name, reopened: null });
    next.activate(this.ctx);
    this.changed();
  }

  colorOf(labelClass: number): string {
    return this.labelClasses.find((c) => c.id === labelClass)?.color ?? "#e6194b";
  }

  /** A label class for new annotations, and for the selected one (when it may be edited). */
  setLabelClass(id: number): void {
    this.ui.set({ labelClass: id });
    const selected = this.ui.state.selected;
    if (this.permissions.edit && selected !== null && this.ui.selectable(selected) && this.store.find(selected)?.labelClass !== id) {
      this.store.update(selected, { labelClass: id });
    }
    this.changed();
  }

  /** Enter: the active tool commits its unfinished work. */
  acceptMask(): Promise<void> {
    return this.active.accept?.() ?? Promise.resolve();
  }

  private point(e: MouseEvent): ToolPoint {
    const rect = this.canvas.getBoundingClientRect();
    const screen = { x: e.clientX - rect.left, y: e.clientY - rect.top };
    const p = screenToImage(screen, this.view);
    return { screen, image: { x: clamp(p.x, 0, this.imageSize.width), y: clamp(p.y, 0, this.imageSize.height) } };
  }

  private onPointerDown(e: PointerEvent): void {
    this.canvas.focus();
    const at = this.point(e);
    if (this.spaceHeld || e.button === 1) {
      this.panning = at.screen;
      return;
    }
    this.active.onPointerDown(e, at);
  }

  private onPointerMove(e: PointerEvent): void {
    const at = this.point(e);
    if (this.panning !== null) {
      this.view = panBy(this.view, at.screen.x - this.panning.x, at.screen.y - this.panning.y);
      this.fitted = false;
      this.panning = at.screen;
      this.changed();
      return;
    }
    this.cursor = at.image;
    this.active.onPointerMove(e, at);
  }

  private onPointerUp(e: PointerEvent): void {
    if (this.panning !== null) {
      this.panning = null;
      return;
    }
    this.active.onPointerUp(e, this.point(e));
  }

  private onWheel(e: WheelEvent): void {
    e.preventDefault();
    this.view = zoomAt(this.view, this.point(e).screen, Math.exp(-e.deltaY * 0.0015));
    this.fitted = false;
    this.changed();
  }

  private onKeyDown(e: KeyboardEvent): void {
    if (isTyping(e.target) && e.key !== "Escape") {
      return; // typed into a text field (a slider, a checkbox or a button keeps the shortcuts)
    }
    const ctrl = e.ctrlKey || e.metaKey;
    if (ctrl && e.key.toLowerCase() === "z") {
      e.preventDefault();
      if (!this.permissions.edit) {
        return;
      }
      if (e.shiftKey) {
        this.store.redo();
      } else {
        this.store.undo();
      }
      return;
    }
    if (ctrl || e.altKey) {
      return;
    }
    if (this.active.onKey(e) || this.globalKey(e)) {
      e.preventDefault();
    }
  }

  private globalKey(e: KeyboardEvent): boolean {
    const key = e.key.toLowerCase();
    const action = GLOBAL_KEYS[key];
    if (action !== undefined) {
      return this.run(action, e);
    }
    const tool = toolByKey(key);
    if (tool !== undefined) {
      this.setTool(tool.name);
      return true;
    }
    const labelClass = this.labelClasses[Number.parseInt(e.key, 10) - 1];
    if (labelClass !== undefined) {
      this.setLabelClass(labelClass.id);
      return true;
    }
    return false;
  }

  private run(action: GlobalAction, e: KeyboardEvent): boolean {
    switch (action) {
      case "cycle":
        this.sam.cycle(e.shiftKey ? -1 : 1);
        return true;
      case "accept":
        void this.acceptMask();
        return true;
      case "cancel":
        this.active.cancel();
        this.sam.cancel();
        this.ui.set({ reopened: null, selected: null });
        this.changed();
        return true;
      case "delete":
        return this.deleteSelection();
      case "help":
        this.hooks.toggleHelp();
        return true;
      case "pan":
        this.spaceHeld = true;
        return true;
      case "fit":
        this.fit();
        return true;
      case "toggle-annotations":
        this.ui.set({ showAnnotations: !this.ui.state.showAnnotations });
        return true;
      case "previous-image":
      case "next-image":
        this.hooks.navigate(action === "previous-image" ? -1 : 1);
        return true;
    }
  }

  /** Delete / Backspace: the selected annotation's vertex under the cursor, or the annotation. */
  private deleteSelection(): boolean {
    const selected = this.ui.state.selected;
    if (selected === null) {
      return false;
    }
    const annotation = this.store.find(selected);
    const vertex = annotation && this.cursor ? hitVertex(annotation.polygons, this.cursor, HIT_PX / this.view.zoom) : null;
    if (annotation && vertex !== null && this.permissions.edit) {
      removeVertex(this.ctx, annotation, vertex);
    } else if (this.permissions.delete) {
      this.store.remove(selected);
      this.ui.set({ selected: null });
    }
    return true;
  }

  /** The painted canvas of a mask, made again only when the mask or its colour changed. */
  private painted(slot: "mask" | "hover", mask: MaskImage | null | undefined, color: string): HTMLCanvasElement | null {
    if (mask === null || mask === undefined) {
      return null;
    }
    const cached = this.masks.get(slot);
    if (cached?.source === mask.data && cached.color === color) {
      return cached.canvas;
    }
    const canvas = maskCanvas(mask.data, mask.width, mask.height, color);
    this.masks.set(slot, { source: mask.data, color, canvas });
    return canvas;
  }

  private draw(): void {
    const ctx = this.canvas.getContext("2d");
    if (ctx === null) {
      return;
    }
    const ui = this.ui.state;
    const overlay = this.active.overlay();
    const color = this.colorOf(ui.labelClass);
    const preview = overlay.preview ?? null;
    drawFrame(ctx, {
      view: this.view,
      image: this.image,
      imageSize: this.imageSize,
      annotations: this.store.present.annotations
        .filter((a) => !ui.hidden.has(a.localId))
        .map((a) => ({
          polygons: preview?.localId === a.localId ? preview.polygons : a.polygons,
          color: this.colorOf(a.labelClass),
          selected: a.localId === ui.selected,
          handles: this.active.name === "select", // vertex handles only where they can be dragged
        })),
      showAnnotations: ui.showAnnotations,
      opacity: ui.opacity,
      mask: this.painted("mask", overlay.mask, color),
      hover: this.painted("hover", overlay.hover, color),
      points: overlay.points ?? [],
      box: overlay.box ?? null,
      draft: overlay.draft ?? [],
      cursor: overlay.cursor ?? null,
      brush: overlay.brush ?? null,
    });
  }
}

/** Keys go to this element, not to the shortcuts: text inputs, text areas, selects, editable content. */
export function isTyping(target: EventTarget | null): boolean {
  const element = target as HTMLElement | null;
  if (element === null || typeof element.tagName !== "string") {
    return false;
  }
  if (element.tagName === "INPUT") {
    return !NOT_TYPED.has((element as HTMLInputElement).type);
  }
  return element.tagName === "TEXTAREA" || element.tagName === "SELECT" || element.isContentEditable;
}

const NOT_TYPED = new Set(["range", "checkbox", "radio", "button", "submit", "reset", "color", "file", "image"]);
const clamp = (value: number, low: number, high: number): number => Math.min(high, Math.max(low, value));
