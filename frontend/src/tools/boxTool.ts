/**
 * Box annotations: drag a rectangle; on release it becomes a plain bounding-box annotation
 * (`kind: "box"`, saved as its bbox, exported as a COCO bbox / YOLO detection box, docs/exports.md)
 * and stays selected, so a digit relabels it. A drag shorter than a few screen pixels is no box; Esc
 * drops the box being dragged. Time runs from the drag's start to its release; the drag counts as
 * one click.
 */
import type { Point } from "../geometry/transforms";
import { EffortClock } from "./effort";
import { round2, type Tool, type ToolContext, type ToolOverlay, type ToolPoint } from "./tool";

/** Screen pixels a drag must span (in both directions) to make a box. */
export const MIN_DRAG_PX = 3;

export class BoxTool implements Tool {
  readonly name = "box";
  private ctx: ToolContext | null = null;
  private start: Point | null = null;
  private current: Point | null = null;
  private cursor: Point | null = null;
  private readonly clock: EffortClock;

  constructor(now?: () => number) {
    this.clock = new EffortClock(now);
  }

  activate(ctx: ToolContext): void {
    this.ctx = ctx;
  }

  deactivate(): void {
    this.cancel();
    this.ctx = null;
  }

  get busy(): boolean {
    return this.start !== null;
  }

  onPointerDown(ev: PointerEvent, at: ToolPoint): void {
    if (ev.button !== 0 || this.ctx === null || !this.ctx.permissions().create) {
      return;
    }
    this.clock.reset();
    this.clock.action("click");
    this.start = at.image;
    this.current = at.image;
  }

  onPointerMove(_ev: PointerEvent, at: ToolPoint): void {
    this.cursor = at.image;
    if (this.start !== null) {
      this.current = at.image;
      this.clock.touch();
    }
    this.ctx?.changed();
  }

  onPointerUp(_ev: PointerEvent, at: ToolPoint): void {
    const ctx = this.ctx;
    const start = this.start;
    this.start = null;
    this.current = null;
    if (ctx === null || start === null) {
      return;
    }
    const { width, height } = ctx.imageSize;
    const clamp = (value: number, max: number): number => Math.min(max, Math.max(0, value));
    const x0 = round2(clamp(Math.min(start.x, at.image.x), width));
    const y0 = round2(clamp(Math.min(start.y, at.image.y), height));
    const x1 = round2(clamp(Math.max(start.x, at.image.x), width));
    const y1 = round2(clamp(Math.max(start.y, at.image.y), height));
    const zoom = ctx.view().zoom;
    if ((x1 - x0) * zoom < MIN_DRAG_PX || (y1 - y0) * zoom < MIN_DRAG_PX) {
      ctx.changed();
      return;
    }
    const effort = this.clock.effort();
    this.clock.reset();
    const localId = ctx.newLocalId();
    ctx.document.add({
      localId,
      labelClass: ctx.ui.state.labelClass,
      kind: "box",
      bbox: [x0, y0, round2(x1 - x0), round2(y1 - y0)],
      polygons: [[[x0, y0, x1, y0, x1, y1, x0, y1]]],
      source: "manual",
      prompts: {},
      ...effort,
    });
    ctx.ui.set({ selected: localId });
    ctx.changed();
  }

  onKey(): boolean {
    return false;
  }

  cancel(): void {
    this.start = null;
    this.current = null;
    this.clock.reset();
    this.ctx?.changed();
  }

  overlay(): ToolOverlay {
    const box =
      this.start !== null && this.current !== null
        ? {
            x0: Math.min(this.start.x, this.current.x),
            y0: Math.min(this.start.y, this.current.y),
            x1: Math.max(this.start.x, this.current.x),
            y1: Math.max(this.start.y, this.current.y),
          }
        : null;
    return { box, cursor: this.cursor };
  }
}
