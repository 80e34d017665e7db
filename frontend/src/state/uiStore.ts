/**
 * The annotator's UI state for one image: which tool is active, which annotation is selected, which
 * ones are hidden or locked, the label class and display settings. Not undoable (the document is,
 * state/document.ts); listeners hear every change. Tools, the canvas host, the side panel and the
 * toolbar all read and write it here instead of each other's fields.
 */
import { AUTO_DETAIL } from "../geometry/simplify";

export interface UiState {
  /** The active tool's name (tools/registry.ts). */
  readonly tool: string;
  readonly selected: string | null;
  /** The label class new annotations get (and the selected one's, when changed). */
  readonly labelClass: number;
  /** Local ids not drawn on the canvas. */
  readonly hidden: ReadonlySet<string>;
  /** Local ids that cannot be selected or edited on the canvas. */
  readonly locked: ReadonlySet<string>;
  /** Local id of the annotation whose SAM session was reopened: Enter replaces its geometry. */
  readonly reopened: string | null;
  readonly panelOpen: boolean;
  readonly helpOpen: boolean;
  /** Brush / eraser diameter in image pixels. */
  readonly brushSize: number;
  readonly opacity: number;
  /** Polygon simplification tolerance (the Detail slider); AUTO_DETAIL (< 0) = fewest vertices with IoU ≥ 0.99. */
  readonly detail: number;
  readonly showAnnotations: boolean;
}

export const INITIAL_UI: UiState = {
  tool: "sam",
  selected: null,
  labelClass: 0,
  hidden: new Set(),
  locked: new Set(),
  reopened: null,
  panelOpen: true,
  helpOpen: false,
  brushSize: 20,
  opacity: 0.45,
  detail: AUTO_DETAIL,
  showAnnotations: true,
};

export type UiListener = (state: UiState, previous: UiState) => void;

export class UiStore {
  private current: UiState;
  private readonly listeners = new Set<UiListener>();

  constructor(initial: Partial<UiState> = {}) {
    this.current = { ...INITIAL_UI, ...initial };
  }

  get state(): UiState {
    return this.current;
  }

  /** Apply a change; listeners run only when some field really changed. */
  set(patch: Partial<UiState>): void {
    const previous = this.current;
    const next = { ...previous, ...patch };
    if ((Object.keys(patch) as (keyof UiState)[]).every((key) => previous[key] === next[key])) {
      return;
    }
    this.current = next;
    for (const listener of this.listeners) {
      listener(next, previous);
    }
  }

  subscribe(listener: UiListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  toggleHidden(localId: string): void {
    const hidden = toggled(this.current.hidden, localId);
    // A hidden annotation is not drawn, so it cannot stay selected.
    this.set({ hidden, ...(hidden.has(localId) && this.current.selected === localId ? { selected: null } : {}) });
  }

  toggleLocked(localId: string): void {
    const locked = toggled(this.current.locked, localId);
    this.set({ locked, ...(locked.has(localId) && this.current.selected === localId ? { selected: null } : {}) });
  }

  /** Can this annotation be picked on the canvas or in the list (not hidden, not locked)? */
  selectable(localId: string): boolean {
    return !this.current.hidden.has(localId) && !this.current.locked.has(localId);
  }

  /** Forget ids that are no longer in the document (deleted, undone). */
  retain(localIds: ReadonlySet<string>): void {
    const keep = (set: ReadonlySet<string>): ReadonlySet<string> =>
      [...set].every((id) => localIds.has(id)) ? set : new Set([...set].filter((id) => localIds.has(id)));
    const selected = this.current.selected !== null && !localIds.has(this.current.selected) ? null : this.current.selected;
    this.set({ hidden: keep(this.current.hidden), locked: keep(this.current.locked), selected });
  }
}

function toggled(set: ReadonlySet<string>, id: string): ReadonlySet<string> {
  const next = new Set(set);
  if (!next.delete(id)) {
    next.add(id);
  }
  return next;
}
