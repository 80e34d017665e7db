/**
 * Select / edit: click selects the topmost annotation under the cursor (hidden and locked ones are
 * skipped); on the selected one, drag a vertex to move it, click an edge to insert one, Alt+click a
 * vertex to delete it. One undo step per drag: the document sees only the final position.
 */
import type { Point } from "../geometry/transforms";
import { deleteVertex, insertVertex, moveVertex, type AnnotationDoc } from "../state/document";
import { hitEdge, hitVertex, insidePolygons, type VertexHit } from "./polygonEdit";
import { HIT_PX, round2, type Tool, type ToolContext, type ToolOverlay, type ToolPoint } from "./tool";

export class SelectTool implements Tool {
  readonly name = "select";
  private ctx: ToolContext | null = null;
  private down: { alt: boolean } | null = null;
  private drag: { localId: string; hit: VertexHit; moved: boolean; at: Point } | null = null;

  activate(ctx: ToolContext): void {
    this.ctx = ctx;
  }

  deactivate(): void {
    this.cancel();
    this.ctx = null;
  }

  onPointerDown(ev: PointerEvent, at: ToolPoint): void {
    const ctx = this.ctx;
    if (ctx === null) {
      return;
    }
    this.down = { alt: ev.altKey };
    const selected = ctx.ui.state.selected;
    if (ctx.permissions().edit && selected !== null && ev.button === 0 && !ev.altKey) {
      const annotation = ctx.document.find(selected);
      const hit = annotation ? hitVertex(annotation.polygons, at.image, HIT_PX / ctx.view().zoom) : null;
      if (hit !== null) {
        this.drag = { localId: selected, hit, moved: false, at: at.image };
        ctx.canvas.setPointerCapture(ev.pointerId);
      }
    }
  }

  onPointerMove(_ev: PointerEvent, at: ToolPoint): void {
    if (this.drag !== null) {
      this.drag.moved = true;
      this.drag.at = at.image;
      this.ctx?.changed();
    }
  }

  onPointerUp(_ev: PointerEvent, at: ToolPoint): void {
    const ctx = this.ctx;
    const down = this.down;
    this.down = null;
    if (ctx === null || down === null) {
      return;
    }
    const drag = this.drag;
    if (drag !== null) {
      this.drag = null;
      const annotation = ctx.document.find(drag.localId);
      if (drag.moved && annotation) {
        const { part, ring, vertex } = drag.hit;
        ctx.document.update(drag.localId, { polygons: moveVertex(annotation.polygons, part, ring, vertex, round2(at.image.x), round2(at.image.y)) });
      }
      return;
    }
    this.selectOrEdit(ctx, at.image, down.alt);
  }

  onKey(): boolean {
    return false;
  }

  cancel(): void {
    this.drag = null;
    this.down = null;
  }

  private selectOrEdit(ctx: ToolContext, image: Point, alt: boolean): void {
    const tolerance = HIT_PX / ctx.view().zoom;
    const selectedId = ctx.ui.state.selected;
    const selected = selectedId !== null ? ctx.document.find(selectedId) : undefined;
    if (selected !== undefined && ctx.permissions().edit) {
      const vertex = hitVertex(selected.polygons, image, tolerance);
      if (vertex !== null && alt) {
        removeVertex(ctx, selected, vertex);
        return;
      }
      const edge = vertex === null ? hitEdge(selected.polygons, image, tolerance) : null;
      if (edge !== null) {
        ctx.document.update(selected.localId, {
          polygons: insertVertex(selected.polygons, edge.part, edge.ring, edge.vertex, round2(image.x), round2(image.y)),
        });
        return;
      }
      if (vertex !== null) {
        return;
      }
    }
    const annotations = ctx.document.present.annotations;
    const hit = [...annotations].reverse().find((a) => ctx.ui.selectable(a.localId) && insidePolygons(a.polygons, image));
    ctx.ui.set({ selected: hit?.localId ?? null, ...(hit !== undefined ? { labelClass: hit.labelClass } : {}) });
    ctx.changed();
  }

  overlay(): ToolOverlay {
    const drag = this.drag;
    const annotation = drag !== null && drag.moved ? this.ctx?.document.find(drag.localId) : undefined;
    if (drag === null || annotation === undefined) {
      return {};
    }
    const { part, ring, vertex } = drag.hit;
    return { preview: { localId: drag.localId, polygons: moveVertex(annotation.polygons, part, ring, vertex, drag.at.x, drag.at.y) } };
  }
}

/** Delete a vertex; the last one deletes the annotation (when deleting is allowed). */
export function removeVertex(ctx: ToolContext, annotation: AnnotationDoc, vertex: VertexHit): void {
  const polygons = deleteVertex(annotation.polygons, vertex.part, vertex.ring, vertex.vertex);
  if (polygons === null && !ctx.permissions().delete) {
    return;
  }
  if (polygons === null) {
    ctx.document.remove(annotation.localId);
    ctx.ui.set({ selected: null });
  } else {
    ctx.document.update(annotation.localId, { polygons });
  }
}
