/**
 * Autosave: brings the server in line with the present document after every change (so undo and
 * redo are saved too). Create for new annotations, PATCH (with the version it was based on) for
 * changed ones, DELETE for removed ones. Network and server errors retry with backoff; a stale
 * version (409) stops saving that annotation and reports a conflict carrying the server's copy.
 */
import type { ServerAnnotation } from "../api/annotator";
import { ApiError } from "../api/http";
import * as api from "../api/annotator";
import type { Rle } from "../geometry/rle";
import type { AnnotationDoc, DocumentStore } from "./document";

export type SaveState = "saved" | "unsaved" | "saving" | "error" | "conflict";

interface Saved {
  serverId: number;
  version: number;
  labelClass: number;
  polygons: string; // JSON, to compare cheaply
  prompts: string; // canonical JSON (the database may reorder an object's keys)
  effort: Effort; // the server's counts
}

type Effort = Required<Pick<api.AnnotationWrite, "time_spent_ms" | "click_count" | "vertex_count" | "stroke_count">>;

/** How a document annotation's geometry is sent: a box as its bbox, a brushed mask as its RLE. */
export function geometryBody(annotation: AnnotationDoc): Pick<api.AnnotationWrite, "polygons" | "rle" | "bbox"> {
  if (annotation.kind === "box") {
    return { bbox: annotation.bbox ?? boundsOf(annotation.polygons) };
  }
  const rle = currentRle(annotation);
  return rle !== null ? { rle } : { polygons: annotation.polygons };
}

/** The annotation's RLE when it is still the mask of its polygons, else null (see AnnotationDoc.rle). */
export function currentRle(annotation: AnnotationDoc): Rle | null {
  return annotation.rle !== undefined && annotation.rle.polygons === annotation.polygons ? annotation.rle.rle : null;
}

/** The effort the metrics count (docs/annotator.md "Metrics"); counts the document lacks are left out. */
export function effortBody(annotation: AnnotationDoc): Partial<Effort> {
  return {
    time_spent_ms: Math.round(annotation.timeSpentMs),
    click_count: annotation.clickCount,
    ...(annotation.vertexCount !== undefined ? { vertex_count: annotation.vertexCount } : {}),
    ...(annotation.strokeCount !== undefined ? { stroke_count: annotation.strokeCount } : {}),
  };
}

/** The effort counts this page changed since the server's copy (a reviewer's correction changes none). */
export function effortChanges(annotation: AnnotationDoc, saved: Effort): Partial<Effort> {
  const body = effortBody(annotation);
  return Object.fromEntries(
    (Object.keys(body) as (keyof Effort)[]).filter((key) => body[key] !== saved[key]).map((key) => [key, body[key]]),
  );
}

/** [x, y, width, height] around every vertex (a box whose rectangle was edited vertex by vertex). */
export function boundsOf(polygons: AnnotationDoc["polygons"]): [number, number, number, number] {
  const xs = polygons.flatMap((part) => part.flatMap((ring) => ring.filter((_, i) => i % 2 === 0)));
  const ys = polygons.flatMap((part) => part.flatMap((ring) => ring.filter((_, i) => i % 2 === 1)));
  const x0 = Math.min(...xs), y0 = Math.min(...ys);
  return [x0, y0, Math.max(...xs) - x0, Math.max(...ys) - y0];
}

export interface Conflict {
  readonly localId: string;
  readonly current: ServerAnnotation;
}

export interface AutosaveEvents {
  onState(state: SaveState, detail: string): void;
  onConflict(conflict: Conflict): void;
}

export class Autosaver {
  /** What the server holds, by local id. */
  private readonly saved = new Map<string, Saved>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private running = false;
  private failures = 0;
  private readonly conflicts = new Map<string, ServerAnnotation>();
  state: SaveState = "saved";

  constructor(
    private readonly imageId: number,
    private readonly store: DocumentStore,
    private readonly events: AutosaveEvents,
    private readonly delayMs = 400,
  ) {
    store.subscribe(() => this.schedule(this.delayMs));
  }

  /** Record an annotation loaded from the server (it needs no save). */
  adopt(localId: string, server: ServerAnnotation): void {
    this.saved.set(localId, {
      serverId: server.id,
      version: server.version,
      labelClass: server.label_class,
      polygons: JSON.stringify(server.polygons),
      prompts: canonicalJson(server.prompts),
      effort: {
        time_spent_ms: server.time_spent_ms ?? 0,
        click_count: server.click_count ?? 0,
        vertex_count: server.vertex_count ?? 0,
        stroke_count: server.stroke_count ?? 0,
      },
    });
  }

  serverIdOf(localId: string): number | undefined {
    return this.saved.get(localId)?.serverId;
  }

  /** The version of the server's copy that this page's edits of the annotation are based on. */
  versionOf(localId: string): number | undefined {
    return this.saved.get(localId)?.version;
  }

  /**
   * A stale version (409) for this annotation, met here or by a save made elsewhere in the page: its
   * saving waits (the local change is kept) until `reapplyOver`, and the page is told.
   */
  holdConflict(localId: string, current: ServerAnnotation): void {
    this.conflicts.set(localId, current);
    this.events.onConflict({ localId, current });
  }

  get dirty(): boolean {
    return this.pendingWork().length > 0 || this.running;
  }

  /** Take the server's copy as the base and apply the local change on top of it again. */
  reapplyOver(localId: string): void {
    const current = this.conflicts.get(localId);
    if (current === undefined) {
      return;
    }
    this.conflicts.delete(localId);
    this.adopt(localId, current);
    this.schedule(0);
  }

  /**
   * Save now and wait: true once the server holds everything, false on an error, a conflict or
   * after `timeoutMs` (what is unsaved stays in the page and saving goes on).
   */
  async saveAndWait(timeoutMs: number): Promise<boolean> {
    this.schedule(0);
    const deadline = performance.now() + timeoutMs;
    while (this.dirty || this.state !== "saved") {
      if (this.state === "error" || this.state === "conflict" || performance.now() > deadline) {
        return false;
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    return true;
  }

  schedule(delay: number): void {
    if (this.timer !== null) {
      clearTimeout(this.timer);
    }
    this.setState(this.pendingWork().length > 0 ? "unsaved" : this.conflicts.size ? "conflict" : "saved");
    this.timer = setTimeout(() => void this.flush(), delay);
  }

  private pendingWork(): (() => Promise<void>)[] {
    const work: (() => Promise<void>)[] = [];
    const present = new Map(this.store.present.annotations.map((a) => [a.localId, a]));
    for (const annotation of present.values()) {
      if (this.conflicts.has(annotation.localId)) {
        continue;
      }
      const saved = this.saved.get(annotation.localId);
      if (saved === undefined) {
        work.push(() => this.create(annotation));
      } else if (
        saved.labelClass !== annotation.labelClass ||
        saved.polygons !== JSON.stringify(annotation.polygons) ||
        saved.prompts !== canonicalJson(annotation.prompts)
      ) {
        work.push(() => this.update(annotation, saved));
      }
    }
    for (const [localId, saved] of this.saved) {
      if (!present.has(localId)) {
        work.push(() => this.remove(localId, saved));
      }
    }
    return work;
  }

  private async flush(): Promise<void> {
    this.timer = null;
    if (this.running) {
      return; // the running flush schedules another pass when it ends
    }
    const work = this.pendingWork();
    if (work.length === 0) {
      this.setState(this.conflicts.size ? "conflict" : "saved");
      return;
    }
    this.running = true;
    this.setState("saving");
    try {
      for (const step of work) {
        await step();
      }
      this.failures = 0;
    } catch (error) {
      this.failures += 1;
      const retryMs = Math.min(30_000, 1000 * 2 ** (this.failures - 1));
      this.running = false;
      this.setState("error", `${describe(error)} — retrying in ${Math.round(retryMs / 1000)} s`);
      this.schedule(retryMs);
      this.setState("error", `${describe(error)} — retrying in ${Math.round(retryMs / 1000)} s`);
      return;
    }
    this.running = false;
    this.schedule(0);
  }

  private async create(annotation: AnnotationDoc): Promise<void> {
    const server = await api.createAnnotation(this.imageId, {
      label_class: annotation.labelClass,
      ...geometryBody(annotation),
      ...(annotation.kind === "box" ? { kind: "box" } : {}),
      source: annotation.source,
      prompts: annotation.prompts,
      ...effortBody(annotation),
    });
    this.adopt(annotation.localId, server);
    this.keepSentGeometry(annotation);
  }

  /** The server spells RLE-derived polygons its own way: compare later edits with what was sent. */
  private keepSentGeometry(annotation: AnnotationDoc): void {
    const saved = this.saved.get(annotation.localId);
    if (saved !== undefined) {
      saved.polygons = JSON.stringify(annotation.polygons);
    }
  }

  private async update(annotation: AnnotationDoc, saved: Saved): Promise<void> {
    try {
      // Prompts go along only when they changed (a reopened SAM session): after "reload and
      // reapply" the new mask's prompts must reach the server with it.
      const prompts = canonicalJson(annotation.prompts) === saved.prompts ? {} : { prompts: annotation.prompts };
      // Effort counts go along only when this page added to them (a reviewer's correction adds none).
      const effort = effortChanges(annotation, saved.effort);
      const server = await api.updateAnnotation(saved.serverId, saved.version, {
        label_class: annotation.labelClass,
        ...geometryBody(annotation),
        ...prompts,
        ...effort,
      });
      this.adopt(annotation.localId, server);
      this.keepSentGeometry(annotation);
      // What was sent is what the server holds, even if it spells it differently: never PATCH in a loop.
      this.saved.get(annotation.localId)!.prompts = canonicalJson(annotation.prompts);
    } catch (error) {
      const current = conflictCopy(error);
      if (current !== null) {
        this.holdConflict(annotation.localId, current);
        return;
      }
      if (error instanceof ApiError && error.status === 404) {
        this.saved.delete(annotation.localId); // deleted elsewhere: save ours as a new one
        return;
      }
      throw error;
    }
  }

  private async remove(localId: string, saved: Saved): Promise<void> {
    await api.deleteAnnotation(saved.serverId);
    this.saved.delete(localId);
  }

  private setState(state: SaveState, detail = ""): void {
    this.state = state;
    this.events.onState(state, detail);
  }
}

/** The server's copy carried by a 409 (stale version) answer; null for any other error. */
export function conflictCopy(error: unknown): ServerAnnotation | null {
  if (error instanceof ApiError && error.status === 409) {
    return (error.body as { current?: ServerAnnotation } | null)?.current ?? null;
  }
  return null;
}

function describe(error: unknown): string {
  if (error instanceof ApiError) {
    const body = error.body as Record<string, unknown> | null;
    return `save failed (HTTP ${error.status}${body ? `: ${JSON.stringify(body).slice(0, 200)}` : ""})`;
  }
  return `save failed (${error instanceof Error ? error.message : String(error)})`;
}

/** JSON with object keys sorted at every level, so equal values compare equal as strings. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value ?? {}, (_key, inner: unknown) =>
    inner !== null && typeof inner === "object" && !Array.isArray(inner)
      ? Object.fromEntries(Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner,
  );
}
