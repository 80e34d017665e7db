/**
 * The annotator page's controller: turns pointer and keyboard events into commands on the
 * document store and the SAM session, and asks render/draw.ts for a frame when something changed.
 * Loading (image, annotations, model, embedding) lives in main.ts.
 */
import { fitView, panBy, screenToImage, zoomAt, type Point, type View } from "../geometry/transforms";
import { drawFrame, maskCanvas } from "../render/draw";
import { normalizeBox, type Box } from "../sam/feeds";
import { deleteVertex, insertVertex, moveVertex, type AnnotationDoc, type DocumentStore } from "../state/document";
import { hitEdge, hitVertex, insidePolygons, type VertexHit } from "./polygonEdit";
import { samAccepted } from "./samAccept";
import type { SamSession } from "../sam/session";

export type ToolName = "sam" | "polygon" | "select";

/** What the page lets this user do now (review mode: edit only; read-only: nothing). */
export interface EditPermissions {
  readonly create: boolean;
  readonly edit: boolean;
  readonly delete: boolean;
}

export interface LabelClassInfo {
  readonly id: number;
  readonly name: string;
  readonly color: string;
}

const DRAG_THRESHOLD_PX = 5;
const HIT_PX = 8;
let localCounter = 0;
export const newLocalId = (): string => `local-${Date.now().toString(36)}-${(localCounter += 1)}`;

export class AnnotatorApp {
  tool: ToolName = "sam";
  view: View = { zoom: 1, panX: 0, panY: 0 };
  image: HTMLImageElement | null = null;
  selected: string | null = null;
  labelClass: number;
  opacity = 0.45;
  detail = 1;
  showAnnotations = true;
  draft: Point[] = [];
  permissions: EditPermissions = { create: true, edit: true, delete: true };
  /** Local id of the annotation whose SAM session was reopened: Enter replaces its geometry. */
  reopened: string | null = null;
  private cursor: Point | null = null;
  private pointerDown: { screen: Point; image: Point; button: number; alt: boolean } | null = null;
  private dragBox: Box | null = null;
  private dragVertex: { localId: string; hit: VertexHit; moved: boolean } | null = null;
  private spaceHeld = false;
  private panning: Point | null = null;
  private frameRequested = false;
  private accepting: Promise<void> | null = null;
  private maskCache: { source: Uint8Array; canvas: HTMLCanvasElement } | null = null;
  private hoverCache: { source: Uint8Array; canvas: HTMLCanvasElement } | null = null;

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
  ) {
    this.labelClass = labelClasses[0]?.id ?? 0;
    store.subscribe(() => this.changed());
    canvas.addEventListener("pointerdown", (e) => this.onPointerDown(e));
    canvas.addEventListener("pointermove", (e) => this.onPointerMove(e));
    canvas.addEventListener("pointerup", (e) => this.onPointerUp(e));
    canvas.addEventListener("pointerleave", () => this.sam.clearHover());
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
      if (first) {
        this.fit();
      }
      this.changed();
    }
  }

  fit(): void {
    this.view = fitView(this.imageSize, { width: this.canvas.width, height: this.canvas.height });
    this.changed();
  }

  setTool(tool: ToolName): void {
    this.tool = tool;
    this.draft = [];
    this.reopened = null;
    this.sam.cancel();
    this.changed();
  }

  colorOf(labelClass: number): string {
    return this.labelClasses.find((c) => c.id === labelClass)?.color ?? "#e6194b";
  }

  setLabelClass(id: number): void {
    this.labelClass = id;
    if (this.permissions.edit && this.selected !== null && this.store.find(this.selected)?.labelClass !== id) {
      this.store.update(this.selected, { labelClass: id });
    }
    this.changed();
  }

  /**
   * Enter in SAM mode: the mask of the latest prompt set becomes polygons, saved as an annotation.
   * While a click is still decoding, the accept waits for it (a second Enter meanwhile joins the
   * same accept), so the stored prompts, mask, click count and time always belong together. The
   * label class and detail are those at the time Enter was pressed.
   */
  acceptMask(): Promise<void> {
    this.accepting ??= this.commitMask().finally(() => {
      this.accepting = null;
      this.changed();
    });
    this.changed();
    return this.accepting;
  }

  /** An accept waits for the decode in flight (status line: "saving when the mask lands"). */
  get acceptPending(): boolean {
    return this.accepting !== null;
  }

  private async commitMask(): Promise<void> {
    const labelClass = this.labelClass;
    const detail = this.detail;
    const settled = await this.sam.settled();
    if (settled === null) {
      return; // cancelled meanwhile, or the decode failed (reported)
    }
    const accepted = samAccepted(settled, detail, performance.now());
    if (accepted === null) {
      return;
    }
    if (this.reopened !== null) {
      const target = this.reopened;
      this.reopened = null;
      this.sam.cancel();
      this.hooks.replaceGeometry?.(target, accepted.polygons, accepted.prompts);
      return;
    }
    if (!this.permissions.create) {
      return;
    }
    this.sam.cancel();
    this.store.add({ localId: newLocalId(), labelClass, ...accepted });
  }

  closeDraft(): void {
    if (this.draft.length < 3 || !this.permissions.create) {
      return;
    }
    const ring = this.draft.flatMap((p) => [round2(p.x), round2(p.y)]);
    this.draft = [];
    this.store.add({
      localId: newLocalId(),
      labelClass: this.labelClass,
      polygons: [[ring]],
      source: "manual",
      prompts: {},
      timeSpentMs: 0,
      clickCount: 0,
    });
  }

  private imagePoint(e: MouseEvent): Point {
    const rect = this.canvas.getBoundingClientRect();
    const p = screenToImage({ x: e.clientX - rect.left, y: e.clientY - rect.top }, this.view);
    return { x: clamp(p.x, 0, this.imageSize.width), y: clamp(p.y, 0, this.imageSize.height) };
  }

  private screenPoint(e: MouseEvent): Point {
    const rect = this.canvas.getBoundingClientRect();
    return { x: e.clientX - rect.left, y: e.clientY - rect.top };
  }

  private onPointerDown(e: PointerEvent): void {
    this.canvas.focus();
    if (this.spaceHeld || e.button === 1) {
      this.panning = this.screenPoint(e);
      return;
    }
    const image = this.imagePoint(e);
    this.pointerDown = { screen: this.screenPoint(e), image, button: e.button, alt: e.altKey };
    const tolerance = HIT_PX / this.view.zoom;
    if (this.tool === "select" && this.permissions.edit && this.selected !== null && e.button === 0 && !e.altKey) {
      const annotation = this.store.find(this.selected);
      const hit = annotation ? hitVertex(annotation.polygons, image, tolerance) : null;
      if (hit !== null) {
        this.dragVertex = { localId: this.selected, hit, moved: false };
        this.canvas.setPointerCapture(e.pointerId);
      }
    }
  }

  private onPointerMove(e: PointerEvent): void {
    const screen = this.screenPoint(e);
    if (this.panning !== null) {
      this.view = panBy(this.view, screen.x - this.panning.x, screen.y - this.panning.y);
      this.panning = screen;
      this.changed();
      return;
    }
    const image = this.imagePoint(e);
    this.cursor = image;
    const down = this.pointerDown;
    if (this.dragVertex !== null) {
      this.dragVertex.moved = true;
      this.cursor = image;
      this.changed();
      return;
    }
    if (down !== null && this.tool === "sam" && down.button === 0) {
      if (Math.hypot(screen.x - down.screen.x, screen.y - down.screen.y) > DRAG_THRESHOLD_PX) {
        this.dragBox = { x0: down.image.x, y0: down.image.y, x1: image.x, y1: image.y };
        this.changed();
      }
      return;
    }
    if (this.tool === "sam" && down === null && !this.sam.active && this.permissions.create) {
      void this.sam.previewAt(image.x, image.y);
    }
    if (this.tool === "polygon" && this.draft.length > 0) {
      this.changed();
    }
  }

  private onPointerUp(e: PointerEvent): void {
    if (this.panning !== null) {
      this.panning = null;
      return;
    }
    const down = this.pointerDown;
    this.pointerDown = null;
    if (down === null) {
      return;
    }
    const image = this.imagePoint(e);
    if (this.dragVertex !== null) {
      const { localId, hit, moved } = this.dragVertex;
      this.dragVertex = null;
      const annotation = this.store.find(localId);
      if (moved && annotation) {
        // One undo step per drag: the store sees only the final position.
        this.store.update(localId, { polygons: moveVertex(annotation.polygons, hit.part, hit.ring, hit.vertex, round2(image.x), round2(image.y)) });
      }
      return;
    }
    if ((this.tool === "sam" || this.tool === "polygon") && !this.permissions.create && this.reopened === null) {
      this.dragBox = null; // nothing new may be drawn; a reopened SAM session still takes clicks
      this.changed();
      return;
    }
    if (this.tool === "sam") {
      if (this.dragBox !== null) {
        const box = normalizeBox(this.dragBox);
        this.dragBox = null;
        this.sam.setBox(box);
      } else {
        const negative = down.button === 2 || down.alt;
        this.sam.addPoint({ x: image.x, y: image.y, positive: !negative });
      }
      this.changed();
    } else if (this.tool === "polygon" && down.button === 0) {
      const first = this.draft[0];
      if (first !== undefined && this.draft.length >= 3 && Math.hypot(first.x - image.x, first.y - image.y) * this.view.zoom <= HIT_PX) {
        this.closeDraft();
      } else {
        this.draft.push(image);
      }
      this.changed();
    } else if (this.tool === "select") {
      this.selectOrEdit(image, down.alt);
    }
  }

  private selectOrEdit(image: Point, alt: boolean): void {
    const tolerance = HIT_PX / this.view.zoom;
    const selected = this.selected !== null ? this.store.find(this.selected) : undefined;
    if (selected !== undefined && this.permissions.edit) {
      const vertex = hitVertex(selected.polygons, image, tolerance);
      if (vertex !== null && alt) {
        this.removeVertex(selected, vertex);
        return;
      }
      const edge = vertex === null ? hitEdge(selected.polygons, image, tolerance) : null;
      if (edge !== null) {
        this.store.update(selected.localId, {
          polygons: insertVertex(selected.polygons, edge.part, edge.ring, edge.vertex, round2(image.x), round2(image.y)),
        });
        return;
      }
      if (vertex !== null) {
        return;
      }
    }
    const annotations = this.store.present.annotations;
    const hit = [...annotations].reverse().find((a) => insidePolygons(a.polygons, image));
    this.selected = hit?.localId ?? null;
    if (hit !== undefined) {
      this.labelClass = hit.labelClass;
    }
    this.changed();
  }

  private removeVertex(annotation: AnnotationDoc, vertex: VertexHit): void {
    const polygons = deleteVertex(annotation.polygons, vertex.part, vertex.ring, vertex.vertex);
    if (polygons === null && !this.permissions.delete) {
      return; // the last vertex would delete the annotation
    }
    if (polygons === null) {
      this.store.remove(annotation.localId);
      this.selected = null;
    } else {
      this.store.update(annotation.localId, { polygons });
    }
  }

  private onWheel(e: WheelEvent): void {
    e.preventDefault();
    this.view = zoomAt(this.view, this.screenPoint(e), Math.exp(-e.deltaY * 0.0015));
    this.changed();
  }

  private onKeyDown(e: KeyboardEvent): void {
    const target = e.target as HTMLElement | null;
    if (target !== null && ["INPUT", "SELECT", "TEXTAREA"].includes(target.tagName) && e.key !== "Escape") {
      return;
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
      this.selected = this.selected !== null && this.store.find(this.selected) ? this.selected : null;
      return;
    }
    if (ctrl) {
      return;
    }
    const handled = this.handleKey(e);
    if (handled) {
      e.preventDefault();
    }
  }

  private handleKey(e: KeyboardEvent): boolean {
    switch (e.key) {
      case "Tab":
        this.sam.cycle(e.shiftKey ? -1 : 1);
        return true;
      case "Enter":
        if (this.tool === "polygon") {
          this.closeDraft();
        } else {
          void this.acceptMask();
        }
        return true;
      case "Escape":
        this.draft = [];
        this.reopened = null;
        this.sam.cancel();
        this.selected = null;
        this.changed();
        return true;
      case "Delete":
      case "Backspace":
        return this.deleteSelection();
      case "?":
        this.hooks.toggleHelp();
        return true;
      case " ":
        this.spaceHeld = true;
        return true;
      default:
        break;
    }
    const key = e.key.toLowerCase();
    const tools: Record<string, ToolName> = { s: "sam", p: "polygon", v: "select" };
    if (key in tools) {
      this.setTool(tools[key]!);
      return true;
    }
    if (key === "f") {
      this.fit();
      return true;
    }
    if (key === "h") {
      this.showAnnotations = !this.showAnnotations;
      this.changed();
      return true;
    }
    if (key === "a" || key === "d") {
      this.hooks.navigate(key === "a" ? -1 : 1);
      return true;
    }
    const digit = Number.parseInt(e.key, 10);
    const labelClass = this.labelClasses[digit - 1];
    if (labelClass !== undefined) {
      this.setLabelClass(labelClass.id);
      return true;
    }
    return false;
  }

  private deleteSelection(): boolean {
    if (this.tool === "polygon" && this.draft.length > 0) {
      this.draft.pop();
      this.changed();
      return true;
    }
    if (this.selected === null) {
      return false;
    }
    const annotation = this.store.find(this.selected);
    const vertex = annotation && this.cursor ? hitVertex(annotation.polygons, this.cursor, HIT_PX / this.view.zoom) : null;
    if (annotation && vertex !== null && this.permissions.edit) {
      this.removeVertex(annotation, vertex);
    } else if (this.permissions.delete) {
      this.store.remove(this.selected);
      this.selected = null;
    }
    return true;
  }

  private draw(): void {
    const ctx = this.canvas.getContext("2d");
    if (ctx === null) {
      return;
    }
    const shown = this.sam.shown;
    const color = this.colorOf(this.labelClass);
    if (shown !== null && this.maskCache?.source !== shown.mask) {
      this.maskCache = { source: shown.mask, canvas: maskCanvas(shown.mask, shown.width, shown.height, color) };
    }
    const hover = this.sam.hover;
    if (hover !== null && this.hoverCache?.source !== hover.mask) {
      this.hoverCache = { source: hover.mask, canvas: maskCanvas(hover.mask, hover.width, hover.height, color) };
    }
    const dragging = this.dragVertex;
    drawFrame(ctx, {
      view: this.view,
      image: this.image,
      imageSize: this.imageSize,
      annotations: this.store.present.annotations.map((a) => ({
        polygons: dragging?.localId === a.localId && dragging.moved && this.cursor
          ? moveVertex(a.polygons, dragging.hit.part, dragging.hit.ring, dragging.hit.vertex, this.cursor.x, this.cursor.y)
          : a.polygons,
        color: this.colorOf(a.labelClass),
        selected: a.localId === this.selected,
      })),
      showAnnotations: this.showAnnotations,
      opacity: this.opacity,
      mask: shown !== null ? this.maskCache!.canvas : null,
      hover: hover !== null && shown === null ? this.hoverCache!.canvas : null,
      points: this.sam.prompt.points,
      box: this.dragBox !== null ? normalizeBox(this.dragBox) : this.sam.prompt.box,
      draft: this.draft,
      cursor: this.tool === "polygon" ? this.cursor : null,
    });
  }
}

const round2 = (value: number): number => Math.round(value * 100) / 100;
const clamp = (value: number, low: number, high: number): number => Math.min(high, Math.max(low, value));
