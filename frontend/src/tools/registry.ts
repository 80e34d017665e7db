/**
 * The annotator's tools: the one place a tool is registered. Each entry gives the tool's name (its
 * toolbar button's `data-tool`), the shortcut key that activates it, the toolbar button's text and
 * title, whether it creates annotations (so review / read-only modes disable it) and a factory (one
 * instance per image). The toolbar's tool buttons are made from this list, in this order.
 * A tool file (brush, eraser, box) adds its entry here.
 */
import { BoxTool } from "./boxTool";
import { BrushTool } from "./brushTool";
import { PolygonTool } from "./polygonTool";
import { SamTool } from "./samTool";
import { SelectTool } from "./selectTool";
import type { Tool } from "./tool";

export interface ToolRegistration {
  readonly name: string;
  /** Lower-case key that activates the tool (no modifier). */
  readonly key: string;
  readonly label: string;
  readonly title: string;
  /** Only makes new annotations: disabled where the page may not create (review, read-only). */
  readonly creates: boolean;
  create(): Tool;
}

export const TOOLS: readonly ToolRegistration[] = [
  { name: "sam", key: "s", label: "SAM", title: "Click to segment (S)", creates: true, create: () => new SamTool() },
  { name: "polygon", key: "p", label: "Polygon", title: "Polygon (P)", creates: true, create: () => new PolygonTool() },
  { name: "select", key: "v", label: "Select", title: "Select / edit (V)", creates: false, create: () => new SelectTool() },
  // Touch-up: on the selected mask ([ and ] size); edits, so reviewers may correct with them too.
  { name: "brush", key: "b", label: "Brush", title: "Brush: add to the selected mask (B, size [ ])", creates: false, create: () => new BrushTool("add") },
  { name: "eraser", key: "e", label: "Eraser", title: "Eraser: remove from the selected mask (E, size [ ])", creates: false, create: () => new BrushTool("erase") },
  { name: "box", key: "r", label: "Box", title: "Bounding box annotation (R)", creates: true, create: () => new BoxTool() },
];

/**
 * Keys that do the same whatever the tool (after the active tool's `onKey` declined the key), by
 * `KeyboardEvent.key` lower-cased; the canvas host (annotatorApp.ts) runs the named action.
 * Tool shortcuts come from TOOLS; digits 1–9 pick a label class.
 */
export const GLOBAL_KEYS: Readonly<Record<string, GlobalAction>> = {
  tab: "cycle",
  enter: "accept",
  escape: "cancel",
  delete: "delete",
  backspace: "delete",
  "?": "help",
  " ": "pan",
  f: "fit",
  h: "toggle-annotations",
  a: "previous-image",
  d: "next-image",
};

export type GlobalAction =
  | "cycle" | "accept" | "cancel" | "delete" | "help" | "pan" | "fit" | "toggle-annotations" | "previous-image" | "next-image";

export function toolByKey(key: string): ToolRegistration | undefined {
  return TOOLS.find((tool) => tool.key === key);
}
