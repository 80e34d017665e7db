/**
 * Brush and eraser on the selected object's mask (one class, two registry entries): a stroke paints
 * (or clears) a disc of the brush size along the pointer path into the object's raster mask — its
 * stored RLE when the page has one, else its polygons rasterised by pixel centre (exact for the
 * pixel-edge polygons SAM and the server trace) — and on release the result becomes one undoable
 * document step: the RLE of the new mask (the mask of record the server stores) and its exact
 * pixel-edge trace as the polygons drawn. [ and ] change the size. With nothing selected the brush
 * starts a new object; an eraser stroke that clears a whole object deletes it. Boxes are not brushed.
 *
 * Effort: the strokes on one object count from the first stroke, with the time between strokes
 * (pauses over a minute left out), added to the object's stored effort — only where the page may
 * create annotations (a reviewer's correction adds no labeling effort).
 */
import { applyStroke, stepRadius, type BrushMode } from "../geometry/brush";
import { maskToPolygons } from "../geometry/maskToPolygons";
import { polygonsToMask } from "../geometry/rasterize";
import { maskArea, rleDecode, rleEncode } from "../geometry/rle";
import type { Point } from "../geometry/transforms";
import { currentRle } from "../state/autosave";
import type { AnnotationDoc } from "../state/document";
import { EffortClock, type Effort } from "./effort";
import type { Tool, ToolContext, ToolOverlay, ToolPoint } from "./tool";

interface Stroke {
  /** The annotation being touched up; null = a new object. */
  readonly localId: string | null;
  readonly mask: Uint8Array;
  last: Point;
}

/** The annotation's mask as a row-major raster of the image's size. */
export function annotationMask(annotation: AnnotationDoc, size: { width: number; height: number }): Uint8Array {
  const rle = currentRle(annotation);
  if (rle !== null && rle.size[0] === size.height && rle.size[1] === size.width) {
    return rleDecode(rle).mask;
  }
  return polygonsToMask(annotation.polygons, size);
}

export class BrushTool implements Tool {
  readonly name: string;
  private ctx: ToolContext | null = null;
  private stroke: Stroke | null = null;
  private cursor: Point | null = null;
  private readonly clock: EffortClock;
  /** The object the clock counts for, and its effort when the first stroke on it began. */
  private session: { localId: string; base: Effort } | null = null;

  constructor(
    readonly mode: BrushMode,
    now?: () => number,
  ) {
    this.name = mode === "add" ? "brush" : "eraser";
    this.clock = new EffortClock(now);
  }

  activate(ctx: ToolContext): void {
    this.ctx = ctx;
  }

  deactivate(): void {
    this.cancel();
    this.endSession();
    this.ctx = null;
  }

  get busy(): boolean {
    return this.stroke !== null;
  }

  private get radius(): number {
    return Math.max(0.5, (this.ctx?.ui.state.brushSize ?? 20) / 2);
  }

  /** The selected annotation when it can be brushed (a mask, selectable), else null. */
  private target(): AnnotationDoc | null {
    const ctx = this.ctx!;
    const selected = ctx.ui.state.selected;
    if (selected === null || !ctx.ui.selectable(selected)) {
      return null;
    }
    const annotation = ctx.document.find(selected);
    return annotation !== undefined && annotation.kind !== "box" ? annotation : null;
  }

  onPointerDown(ev: PointerEvent, at: ToolPoint): void {
    const ctx = this.ctx;
    if (ctx === null || ev.button !== 0) {
      return;
    }
    const target = this.target();
    const { width, height } = ctx.imageSize;
    if (target === null) {
      if (this.mode === "erase" || !ctx.permissions().create) {
        return;
      }
      this.endSession();
      this.stroke = { localId: null, mask: new Uint8Array(width * height), last: at.image };
    } else {
      if (!ctx.permissions().edit) {
        return;
      }
      if (this.session?.localId !== target.localId) {
        this.endSession();
      }
      this.stroke = { localId: target.localId, mask: annotationMask(target, ctx.imageSize), last: at.image };
    }
    this.clock.action("stroke");
    applyStroke(this.stroke.mask, ctx.imageSize, [at.image], this.radius, this.mode);
    ctx.changed();
  }

  onPointerMove(_ev: PointerEvent, at: ToolPoint): void {
    this.cursor = at.image;
    const ctx = this.ctx;
    if (ctx !== null && this.stroke !== null) {
      applyStroke(this.stroke.mask, ctx.imageSize, [this.stroke.last, at.image], this.radius, this.mode);
      this.stroke.last = at.image;
      this.clock.touch();
    }
    ctx?.changed();
  }

  onPointerLeave(): void {
    this.cursor = null;
    this.ctx?.changed();
  }

  onPointerUp(_ev: PointerEvent, at: ToolPoint): void {
    const ctx = this.ctx;
    const stroke = this.stroke;
    this.stroke = null;
    if (ctx === null || stroke === null) {
      return;
    }
    applyStroke(stroke.mask, ctx.imageSize, [stroke.last, at.image], this.radius, this.mode);
    const size = ctx.imageSize;
    const counts = ctx.permissions().create;
    if (stroke.localId === null) {
      if (maskArea(stroke.mask) === 0) {
        return;
      }
      const localId = ctx.newLocalId();
      this.session = { localId, base: { timeSpentMs: 0, clickCount: 0, vertexCount: 0, strokeCount: 0 } };
      const polygons = maskToPolygons(stroke.mask, size, 0, 1);
      ctx.document.add({
        localId,
        labelClass: ctx.ui.state.labelClass,
        polygons,
        rle: { rle: rleEncode(stroke.mask, size), polygons },
        source: "manual",
        prompts: {},
        ...this.clock.effort(this.session.base),
      });
      ctx.ui.set({ selected: localId });
      ctx.changed();
      return;
    }
    const annotation = ctx.document.find(stroke.localId);
    if (annotation === undefined) {
      return; // deleted meanwhile (undo)
    }
    if (this.session === null) {
      this.session = {
        localId: stroke.localId,
        base: {
          timeSpentMs: annotation.timeSpentMs,
          clickCount: annotation.clickCount,
          vertexCount: annotation.vertexCount ?? 0,
          strokeCount: annotation.strokeCount ?? 0,
        },
      };
    }
    if (maskArea(stroke.mask) === 0) {
      ctx.document.remove(stroke.localId); // erased completely
      this.endSession();
      ctx.changed();
      return;
    }
    const polygons = maskToPolygons(stroke.mask, size, 0, 1);
    ctx.document.update(stroke.localId, {
      polygons,
      rle: { rle: rleEncode(stroke.mask, size), polygons },
      ...(counts ? this.clock.effort(this.session.base) : {}),
    });
    ctx.changed();
  }

  onKey(ev: KeyboardEvent): boolean {
    if ((ev.key === "[" || ev.key === "]") && this.ctx !== null) {
      const radius = stepRadius(this.radius, ev.key === "]" ? 1 : -1);
      this.ctx.ui.set({ brushSize: radius * 2 });
      this.ctx.changed();
      return true;
    }
    return false;
  }

  /** Esc: the stroke being drawn is dropped (strokes already released are undone with Ctrl+Z). */
  cancel(): void {
    this.stroke = null;
    this.ctx?.changed();
  }

  private endSession(): void {
    this.session = null;
    this.clock.reset();
  }

  overlay(): ToolOverlay {
    const ctx = this.ctx;
    const mask =
      this.stroke !== null && ctx !== null ? { data: this.stroke.mask, width: ctx.imageSize.width, height: ctx.imageSize.height } : null;
    return { mask, brush: this.cursor !== null ? { at: this.cursor, radius: this.radius } : null, cursor: this.cursor };
  }
}
