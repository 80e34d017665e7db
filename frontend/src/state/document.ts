/**
 * The annotations of one image as the labeler edits them: an immutable document under an undo
 * stack. Every edit (add, delete, move/insert/delete a vertex, change class) is one undoable step.
 * Saving is not done here: the autosaver compares the present document with what the server holds.
 */
import type { Polygons } from "../geometry/maskToPolygons";
import type { Rle } from "../geometry/rle";
import { UndoStack } from "./undoStack";

export type AnnotationSourceName = "manual" | "sam_click" | "sam_box";

export interface AnnotationDoc {
  /** Stable for the page's lifetime (the server id is learnt on first save). */
  readonly localId: string;
  readonly labelClass: number;
  readonly polygons: Polygons;
  readonly source: AnnotationSourceName;
  readonly prompts: Record<string, unknown>;
  readonly timeSpentMs: number;
  readonly clickCount: number;
  /** "box": a plain bounding box (tools/boxTool.ts); its polygons are the rectangle. Default "mask". */
  readonly kind?: "mask" | "box";
  /** A box annotation's [x, y, width, height] in image pixels. */
  readonly bbox?: readonly [number, number, number, number];
  /**
   * The mask of record as COCO RLE (the server's, or a brush result, tools/brushTool.ts) and the
   * polygons it belongs to. Current while `polygons` is that very array (an edit of the vertices
   * makes new polygons, so the RLE is stale then and the polygons are saved instead).
   */
  readonly rle?: { readonly rle: Rle; readonly polygons: Polygons };
  /** Polygon vertices placed and brush/eraser strokes (the metrics; clicks are clickCount). */
  readonly vertexCount?: number;
  readonly strokeCount?: number;
}

export interface ImageDocument {
  readonly annotations: readonly AnnotationDoc[];
}

export const EMPTY_DOCUMENT: ImageDocument = { annotations: [] };

export class DocumentStore {
  private readonly history: UndoStack<ImageDocument>;
  private readonly listeners = new Set<() => void>();

  constructor(initial: ImageDocument = EMPTY_DOCUMENT) {
    this.history = new UndoStack(initial);
  }

  get present(): ImageDocument {
    return this.history.present;
  }

  get canUndo(): boolean {
    return this.history.canUndo;
  }

  get canRedo(): boolean {
    return this.history.canRedo;
  }

  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  find(localId: string): AnnotationDoc | undefined {
    return this.present.annotations.find((a) => a.localId === localId);
  }

  add(annotation: AnnotationDoc): void {
    this.commit({ annotations: [...this.present.annotations, annotation] });
  }

  remove(localId: string): void {
    this.commit({ annotations: this.present.annotations.filter((a) => a.localId !== localId) });
  }

  update(localId: string, changes: Partial<Omit<AnnotationDoc, "localId">>): void {
    if (this.find(localId) === undefined) {
      return;
    }
    this.commit({
      annotations: this.present.annotations.map((a) => (a.localId === localId ? { ...a, ...changes } : a)),
    });
  }

  /** Replace without an undo step (the server's copy after "reload and reapply"). */
  replaceSilently(next: ImageDocument): void {
    this.history.replacePresent(next);
    this.notify();
  }

  undo(): void {
    this.history.undo();
    this.notify();
  }

  redo(): void {
    this.history.redo();
    this.notify();
  }

  private commit(next: ImageDocument): void {
    this.history.push(next);
    this.notify();
  }

  private notify(): void {
    for (const listener of this.listeners) {
      listener();
    }
  }
}

/** Polygons with one vertex moved (part, ring, vertex index). */
export function moveVertex(polygons: Polygons, part: number, ring: number, vertex: number, x: number, y: number): Polygons {
  return mapRing(polygons, part, ring, (r) => {
    const next = r.slice();
    next[2 * vertex] = x;
    next[2 * vertex + 1] = y;
    return next;
  });
}

/** Polygons with a vertex inserted after `afterVertex` (on the edge to the next vertex). */
export function insertVertex(polygons: Polygons, part: number, ring: number, afterVertex: number, x: number, y: number): Polygons {
  return mapRing(polygons, part, ring, (r) => [...r.slice(0, 2 * afterVertex + 2), x, y, ...r.slice(2 * afterVertex + 2)]);
}

/** Polygons with a vertex removed; a ring left with fewer than 3 vertices is dropped (an outer ring
 * takes its part with it), and null means nothing is left. */
export function deleteVertex(polygons: Polygons, part: number, ring: number, vertex: number): Polygons | null {
  const target = polygons[part]?.[ring];
  if (target === undefined) {
    return polygons;
  }
  if (target.length / 2 > 3) {
    return mapRing(polygons, part, ring, (r) => [...r.slice(0, 2 * vertex), ...r.slice(2 * vertex + 2)]);
  }
  const next = ring === 0
    ? polygons.filter((_, index) => index !== part)
    : polygons.map((rings, index) => (index === part ? rings.filter((_, j) => j !== ring) : rings));
  return next.length === 0 ? null : next;
}

function mapRing(polygons: Polygons, part: number, ring: number, change: (ring: number[]) => number[]): Polygons {
  return polygons.map((rings, p) => (p === part ? rings.map((r, q) => (q === ring ? change(r) : r)) : rings));
}
