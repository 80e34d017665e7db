/**
 * The interface every annotator tool implements (SAM click/box, polygon draw, select/edit, and
 * whatever a tool file adds: brush, eraser, box). The canvas host (tools/annotatorApp.ts) owns
 * the view (zoom, pan), the frame and the keys that do not depend on the tool; it hands pointer
 * events and keys to the active tool and draws what the tool's `overlay()` returns. Tools are
 * registered in tools/registry.ts (name, shortcut key, toolbar button, factory).
 */
import type { Polygons } from "../geometry/maskToPolygons";
import type { Point, View } from "../geometry/transforms";
import type { Box, PromptPoint } from "../sam/feeds";
import type { SamSession } from "../sam/session";
import type { Autosaver } from "../state/autosave";
import type { AnnotationDoc, DocumentStore } from "../state/document";
import type { UiStore } from "../state/uiStore";

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

/** A pointer position: in image pixels (clamped to the image) and in canvas pixels. */
export interface ToolPoint {
  readonly image: Point;
  readonly screen: Point;
}

/** What a tool adds to the frame (render/draw.ts); everything optional. */
export interface ToolOverlay {
  /** A mask being built (SAM candidate, brush stroke result), width × height of the image, 1 = inside. */
  readonly mask?: { readonly data: Uint8Array; readonly width: number; readonly height: number } | null;
  /** A fainter preview mask (SAM hover). */
  readonly hover?: { readonly data: Uint8Array; readonly width: number; readonly height: number } | null;
  readonly points?: readonly PromptPoint[];
  readonly box?: Box | null;
  readonly draft?: readonly Point[];
  readonly cursor?: Point | null;
  /** A circle at the cursor (brush), radius in image pixels. */
  readonly brush?: { readonly at: Point; readonly radius: number } | null;
  /** Geometry shown instead of the stored one while it is being dragged (not yet in the document). */
  readonly preview?: { readonly localId: string; readonly polygons: Polygons } | null;
}

/** Everything a tool may use. One context per image; tools never reach into the page otherwise. */
export interface ToolContext {
  readonly ui: UiStore;
  readonly document: DocumentStore;
  readonly sam: SamSession;
  readonly labelClasses: readonly LabelClassInfo[];
  readonly imageSize: { readonly width: number; readonly height: number };
  readonly canvas: HTMLCanvasElement;
  /** The current view (zoom = canvas pixels per image pixel). */
  view(): View;
  permissions(): EditPermissions;
  /** Null until the page has created it. */
  autosaver(): Autosaver | null;
  /** Something shown changed: a frame is drawn (once per animation frame) and the chrome updated. */
  changed(): void;
  colorOf(labelClass: number): string;
  /** A new local id for an annotation added to the document. */
  newLocalId(): string;
  /** Enter on a reopened SAM session: the new mask replaces that annotation's geometry (review). */
  replaceGeometry(localId: string, polygons: AnnotationDoc["polygons"], prompts: Record<string, unknown>): void;
}

export interface Tool {
  /** The registry name, also `#annotator-root[data-tool]` and the toolbar button's `data-tool`. */
  readonly name: string;
  activate(ctx: ToolContext): void;
  deactivate(): void;
  onPointerDown(ev: PointerEvent, at: ToolPoint): void;
  onPointerMove(ev: PointerEvent, at: ToolPoint): void;
  onPointerUp(ev: PointerEvent, at: ToolPoint): void;
  /** The canvas was left by the pointer. */
  onPointerLeave?(): void;
  /** A key while this tool is active; true when it was handled (the host then prevents the default). */
  onKey(ev: KeyboardEvent): boolean;
  /** Drop the unfinished work (Esc, another tool, Submit). */
  cancel(): void;
  /** Enter: commit the unfinished work as an annotation. */
  accept?(): Promise<void>;
  /** Anything unfinished that Enter would commit (an accept pending shows in the status line). */
  readonly busy?: boolean;
  overlay(): ToolOverlay;
}

export const HIT_PX = 8;
export const round2 = (value: number): number => Math.round(value * 100) / 100;
