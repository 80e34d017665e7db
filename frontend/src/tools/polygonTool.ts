/**
 * Polygon drawing: click adds a vertex, a click on the first vertex (or Enter) closes the polygon
 * into an annotation, Delete/Backspace removes the last vertex, Esc drops the draft. Its time runs
 * from the first vertex to the close, and every vertex placed counts (tools/effort.ts).
 */
import type { Point } from "../geometry/transforms";
import { EffortClock } from "./effort";
import { HIT_PX, round2, type Tool, type ToolContext, type ToolOverlay, type ToolPoint } from "./tool";

export class PolygonTool implements Tool {
  readonly name = "polygon";
  draft: Point[] = [];
  private ctx: ToolContext | null = null;
  private cursor: Point | null = null;
  private downButton: number | null = null;
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
      this.clock.action("vertex");
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
    this.clock.reset();
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
    const effort = this.clock.effort();
    this.clock.reset();
    const localId = ctx.newLocalId();
    ctx.document.add({
      localId,
      labelClass: ctx.ui.state.labelClass,
      polygons: [[ring]],
      source: "manual",
      prompts: {},
      ...effort,
    });
    ctx.ui.set({ selected: localId }); // a digit now relabels this one
  }

  overlay(): ToolOverlay {
    return { draft: this.draft, cursor: this.cursor };
  }
}
