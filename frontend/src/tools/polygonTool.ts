/**
 * Polygon drawing: click adds a vertex, a click on the first vertex (or Enter) closes the polygon
 * into an annotation, Delete/Backspace removes the last vertex, Esc drops the draft.
 */
import type { Point } from "../geometry/transforms";
import { HIT_PX, round2, type Tool, type ToolContext, type ToolOverlay, type ToolPoint } from "./tool";

export class PolygonTool implements Tool {
  readonly name = "polygon";
  draft: Point[] = [];
  private ctx: ToolContext | null = null;
  private cursor: Point | null = null;
  private downButton: number | null = null;

  activate(ctx: ToolContext): void {
    this.ctx = ctx;
  }

  deactivate(): void {
    this.cancel();
    this.ctx = null;
  }

  onPointerDown(ev: PointerEvent): void {
    this.downButton = ev.button;
  }

  onPointerMove(_ev: PointerEvent, at: ToolPoint): void {
    this.cursor = at.image;
    if (this.draft.length > 0) {
      this.ctx?.changed();
    }
  }

  onPointerUp(_ev: PointerEvent, at: ToolPoint): void {
    const ctx = this.ctx;
    const button = this.downButton;
    this.downButton = null;
    if (ctx === null || button === null) {
      return;
    }
    if (!ctx.permissions().create) {
      ctx.changed();
      return;
    }
    if (button !== 0) {
      return;
    }
    const first = this.draft[0];
    const image = at.image;
    if (first !== undefined && this.draft.length >= 3 && Math.hypot(first.x - image.x, first.y - image.y) * ctx.view().zoom <= HIT_PX) {
      this.close();
    } else {
      this.draft.push(image);
    }
    ctx.changed();
  }

  onKey(ev: KeyboardEvent): boolean {
    if (ev.key === "Enter") {
      this.close();
      return true;
    }
    if ((ev.key === "Delete" || ev.key === "Backspace") && this.draft.length > 0) {
      this.draft.pop();
      this.ctx?.changed();
      return true;
    }
    return false;
  }

  cancel(): void {
    this.draft = [];
    this.ctx?.changed();
  }

  accept(): Promise<void> {
    this.close();
    return Promise.resolve();
  }

  /** The draft (three vertices or more) becomes a hand-drawn annotation. */
  private close(): void {
    const ctx = this.ctx;
    if (ctx === null || this.draft.length < 3 || !ctx.permissions().create) {
      return;
    }
    const ring = this.draft.flatMap((p) => [round2(p.x), round2(p.y)]);
    this.draft = [];
    ctx.document.add({
      localId: ctx.newLocalId(),
      labelClass: ctx.ui.state.labelClass,
      polygons: [[ring]],
      source: "manual",
      prompts: {},
      timeSpentMs: 0,
      clickCount: 0,
    });
  }

  overlay(): ToolOverlay {
    return { draft: this.draft, cursor: this.cursor };
  }
}
