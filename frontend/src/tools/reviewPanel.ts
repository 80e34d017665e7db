/**
 * The review workflow inside the annotator page (docs/review.md, docs/annotator.md):
 * - the annotator submits the image (pending edits are saved first) and reads the reviewer's comments;
 * - a reviewer (or manager) of a submitted image sees each annotation's origin, approves or rejects
 *   annotations one by one or all at once, corrects geometry with the select tool, and reopens the SAM
 *   session of a SAM annotation: its stored prompts are decoded again, more clicks refine the mask and
 *   Enter replaces that annotation's geometry (same id, PATCH).
 * The page's mode (annotate / review / read) decides which edits the canvas allows; the server's access
 * rules (annotator/access.py) are the same, so the page never offers an edit the API would refuse.
 */
import type { ServerAnnotation } from "../api/annotator";
import * as api from "../api/annotator";
import { ApiError } from "../api/http";
import * as reviewApi from "../api/review";
import type { ImageReviewState, ImageReviewStatus } from "../api/review";
import type { Polygons } from "../geometry/maskToPolygons";
import type { Prompt, PromptPoint } from "../sam/feeds";
import { conflictCopy, type Autosaver, type SaveState } from "../state/autosave";
import type { DocumentStore } from "../state/document";
import type { AnnotatorApp, EditPermissions, LabelClassInfo } from "./annotatorApp";
import type { SamSession } from "../sam/session";
import { button } from "../render/dom";

export type PageMode = "annotate" | "review" | "read";

export interface ReviewConfig {
  readonly status: ImageReviewStatus;
  readonly comment: string;
  /** The user may submit this image (its annotator, or a manager) — whatever its status now. */
  readonly can_submit: boolean;
  /** The user may review this image (a reviewer of its job, or a manager) — whatever its status now. */
  readonly can_review: boolean;
}

const ANNOTATOR_EDITABLE: readonly string[] = ["new", "rejected"];
const SAM_PROMPT_SOURCES: readonly string[] = ["sam_click", "sam_box"];

/** Same rules as annotator/access.py: who may change what on this image now. */
export function pageMode(role: string, review: Pick<ReviewConfig, "status" | "can_submit" | "can_review">): PageMode {
  if (review.status === "submitted" && review.can_review) {
    return "review";
  }
  if (role === "manager") {
    return "annotate";
  }
  if (role === "annotator" && review.can_submit && ANNOTATOR_EDITABLE.includes(review.status)) {
    return "annotate";
  }
  return "read";
}

/**
 * Annotating and reviewing both edit freely: reviewers correct, add missed objects and delete wrong
 * ones (an object added during review is stored approved: annotator/services/review_edits.py).
 */
export function permissionsFor(mode: PageMode): EditPermissions {
  if (mode === "annotate" || mode === "review") {
    return { create: true, edit: true, delete: true };
  }
  return { create: false, edit: false, delete: false };
}

export type OriginKey = "sam" | "sam_edited" | "manual" | "auto" | "import";

/** Where an annotation's geometry came from: the rule of the metrics (annotator/selectors_review.py). */
export function originOf(source: string, editedAfterSam: boolean): { key: OriginKey; text: string } {
  if (editedAfterSam && (SAM_PROMPT_SOURCES.includes(source) || source === "auto")) {
    return { key: "sam_edited", text: "edited after SAM" };
  }
  if (SAM_PROMPT_SOURCES.includes(source)) {
    return { key: "sam", text: "SAM as is" };
  }
  if (source === "manual") {
    return { key: "manual", text: "drawn by hand" };
  }
  if (source === "auto") {
    return { key: "auto", text: "segment everything" };
  }
  return { key: "import", text: "imported" };
}

/**
 * The stored prompts of a SAM annotation ({points: [[x, y, label], ...], box: [x0, y0, x1, y1],
 * mask_index}, image pixels) as a decoder prompt; null when there is nothing to decode.
 */
export function promptFromStored(prompts: Record<string, unknown>): { prompt: Prompt; maskIndex: number | null } | null {
  const points: PromptPoint[] = [];
  const rawPoints = prompts["points"];
  if (Array.isArray(rawPoints)) {
    for (const point of rawPoints) {
      if (Array.isArray(point) && point.length >= 2 && point.slice(0, 3).every((v) => typeof v === "number" && Number.isFinite(v))) {
        const [x, y, label] = point as number[];
        points.push({ x: x!, y: y!, positive: label === undefined || label === 1 });
      }
    }
  }
  const rawBox = prompts["box"];
  const box =
    Array.isArray(rawBox) && rawBox.length === 4 && rawBox.every((v) => typeof v === "number" && Number.isFinite(v))
      ? { x0: rawBox[0] as number, y0: rawBox[1] as number, x1: rawBox[2] as number, y1: rawBox[3] as number }
      : null;
  if (points.length === 0 && box === null) {
    return null;
  }
  const index = prompts["mask_index"];
  return { prompt: { points, box }, maskIndex: typeof index === "number" && Number.isInteger(index) ? index : null };
}

/** A readable sentence from an API error ({"detail": ..., "field": [...]}) or any other failure. */
export function describeError(error: unknown): string {
  if (error instanceof ApiError) {
    const body = error.body as Record<string, unknown> | null;
    const parts: string[] = [];
    if (body !== null && typeof body === "object") {
      for (const [key, value] of Object.entries(body)) {
        const text = Array.isArray(value) ? value.join(" ") : String(value);
        if (key === "detail" && text === "Invalid input." && Object.keys(body).length > 1) {
          continue;
        }
        parts.push(key === "detail" ? text : `${key}: ${text}`);
      }
    }
    return parts.length > 0 ? parts.join(" ") : `HTTP ${error.status}`;
  }
  return error instanceof Error ? error.message : String(error);
}

const STATUS_TEXT: Record<string, string> = {
  new: "not submitted",
  submitted: "submitted for review",
  approved: "approved",
  rejected: "rejected",
};

export interface ReviewElements {
  readonly root: HTMLElement;
  readonly status: HTMLElement; // #review-status in the bar
  readonly submit: HTMLButtonElement;
  readonly banner: HTMLElement; // the reviewer's comment on the whole image
  readonly bar: HTMLElement; // review mode: image comment + approve all / reject all
  readonly imageComment: HTMLInputElement;
  readonly approveAll: HTMLButtonElement;
  readonly rejectAll: HTMLButtonElement; // "Reject image": the undecided annotations stay as they are
  readonly rejectRest?: HTMLButtonElement; // "Reject the rest": the undecided ones are rejected too
  readonly message: HTMLElement; // outcome or error of the last review action
  readonly list: HTMLElement; // the annotation list
}

export interface ReviewDeps {
  readonly imageId: number;
  readonly role: string;
  readonly review: ReviewConfig;
  readonly labelClasses: readonly LabelClassInfo[];
  readonly app: AnnotatorApp;
  readonly store: DocumentStore;
  readonly saver: Autosaver;
  readonly sam: SamSession;
  readonly elements: ReviewElements;
}

const SAVE_WAIT_MS = 30_000;

export class ReviewPanel {
  status: ImageReviewStatus;
  comment: string;
  mode: PageMode = "read";
  /** The server's view of each annotation (status, comment, origin), by server id. */
  private readonly info = new Map<number, ServerAnnotation>();
  /** Comments being typed, by server id, so that a re-render keeps them. */
  private readonly drafts = new Map<number, string>();
  private lastSaveState: SaveState = "saved";
  private lastRender = "";
  private busy = false;

  /** A review action (decision, Reopen SAM's replacement) is being sent: leaving waits for it. */
  get working(): boolean {
    return this.busy;
  }

  constructor(private readonly deps: ReviewDeps) {
    this.status = deps.review.status;
    this.comment = deps.review.comment;
    const { elements } = deps;
    elements.submit.addEventListener("click", () => void this.submit());
    elements.approveAll.addEventListener("click", () => void this.decideImage(true));
    elements.rejectAll.addEventListener("click", () => void this.decideImage(false));
    elements.rejectRest?.addEventListener("click", () => void this.decideImage(false, true));
    elements.list.addEventListener("input", (event) => {
      const input = event.target as HTMLInputElement;
      const id = Number(input.closest("li")?.dataset["annotationId"]);
      if (input.classList.contains("annotation-comment") && id) {
        this.drafts.set(id, input.value);
      }
    });
    this.applyMode();
  }

  /** Annotations as loaded with the page. */
  load(rows: readonly ServerAnnotation[]): void {
    this.info.clear();
    for (const row of rows) {
      this.info.set(row.id, row);
    }
    this.render(true);
  }

  /** Reload statuses, comments and origins from the server (after a save or a decision). */
  async refresh(): Promise<void> {
    const [rows, image] = await Promise.all([
      api.listAnnotations(this.deps.imageId),
      reviewApi.imageReviewState(this.deps.imageId),
    ]);
    this.load(rows);
    this.setImageState(image);
  }

  /** Autosave reports: once a save lands, the server's statuses and origins are read again. */
  onSaveState(state: SaveState): void {
    const previous = this.lastSaveState;
    this.lastSaveState = state;
    if (state === "saved" && previous !== "saved") {
      this.refresh().catch((error: unknown) => this.say(`Could not refresh the review state: ${describeError(error)}`, true));
    }
  }

  /** Re-render the list (cheap to call often: nothing happens unless something shown changed). */
  render(force = false): void {
    const { store, saver, app } = this.deps;
    const rows = store.present.annotations.map((doc) => {
      const serverId = saver.serverIdOf(doc.localId) ?? null;
      return { doc, serverId, server: serverId !== null ? this.info.get(serverId) : undefined };
    });
    const signature = JSON.stringify([
      this.mode,
      app.selected,
      app.reopened,
      [...app.ui.state.hidden],
      [...app.ui.state.locked],
      rows.map(({ doc, serverId, server }) => [doc.localId, doc.labelClass, doc.source, doc.prompts, serverId, server?.status,
        server?.review_comment, server?.edited_after_sam, server?.version]),
    ]);
    if (!force && signature === this.lastRender) {
      return;
    }
    this.lastRender = signature;
    this.deps.elements.list.replaceChildren(...rows.map((row) => this.item(row.doc.localId, row.serverId, row.server)));
  }

  private item(localId: string, serverId: number | null, server: ServerAnnotation | undefined): HTMLLIElement {
    const { app, store, labelClasses } = this.deps;
    const doc = store.find(localId)!;
    const li = document.createElement("li");
    li.className = "annotation-item";
    li.dataset["localId"] = localId;
    if (serverId !== null) {
      li.dataset["annotationId"] = String(serverId);
    }
    const status = server?.status ?? "draft";
    const origin = originOf(doc.source, server?.edited_after_sam ?? false);
    li.dataset["status"] = status;
    li.dataset["origin"] = origin.key;
    li.classList.toggle("selected", localId === app.selected);
    li.classList.toggle("rejected", status === "rejected");
    li.classList.toggle("reopened", localId === app.reopened);

    const head = document.createElement("div");
    head.className = "annotation-head";
    const swatch = document.createElement("span");
    swatch.className = "swatch";
    swatch.style.background = app.colorOf(doc.labelClass);
    const name = labelClasses.find((c) => c.id === doc.labelClass)?.name ?? "?";
    head.append(swatch, `${name}${serverId !== null ? ` #${serverId}` : ""} `);
    head.append(badge("origin", origin.text), " ", badge("review-state", status));
    const hidden = app.ui.state.hidden.has(localId);
    const locked = app.ui.state.locked.has(localId);
    li.classList.toggle("hidden-object", hidden);
    li.classList.toggle("locked-object", locked);
    const toggles = document.createElement("span");
    toggles.className = "object-toggles";
    toggles.append(
      toggle("toggle-hidden", hidden ? "show" : "hide", hidden, `${hidden ? "Show" : "Hide"} this object on the canvas`, () => app.ui.toggleHidden(localId)),
      toggle("toggle-locked", locked ? "unlock" : "lock", locked, `${locked ? "Unlock" : "Lock"} this object (a locked one cannot be selected or edited)`, () => app.ui.toggleLocked(localId)),
    );
    head.prepend(toggles);
    li.append(head);
    if (server?.review_comment) {
      const comment = document.createElement("div");
      comment.className = "review-comment";
      comment.textContent = `Reviewer: ${server.review_comment}`;
      li.append(comment);
    }
    li.addEventListener("click", (event) => {
      if ((event.target as HTMLElement).closest("button, input") === null && app.ui.selectable(localId)) {
        app.ui.set({ selected: localId, labelClass: doc.labelClass });
      }
    });
    if (this.mode === "review" && serverId !== null) {
      li.append(this.decisionControls(serverId, doc.source, doc.prompts, localId));
    }
    return li;
  }

  private decisionControls(serverId: number, source: string, prompts: Record<string, unknown>, localId: string): HTMLElement {
    const box = document.createElement("div");
    box.className = "review-actions";
    const input = document.createElement("input");
    input.className = "annotation-comment";
    input.placeholder = "Comment (needed to reject)";
    input.setAttribute("aria-label", `Comment on annotation ${serverId}`);
    input.value = this.drafts.get(serverId) ?? "";
    const approve = button("Approve", () => void this.decideAnnotation(serverId, true), { className: "approve-annotation" });
    const reject = button("Reject", () => void this.decideAnnotation(serverId, false), { className: "reject-annotation" });
    box.append(input, approve, reject);
    if (SAM_PROMPT_SOURCES.includes(source) && promptFromStored(prompts) !== null) {
      box.append(button("Reopen SAM", () => void this.reopen(localId), { className: "reopen-sam" }));
    }
    return box;
  }

  /** Show the mode in the page and hand the canvas the edits it allows. */
  applyMode(): void {
    const { app, elements, role, review } = this.deps;
    const mode = pageMode(role, { status: this.status, can_submit: review.can_submit, can_review: review.can_review });
    const changed = mode !== this.mode;
    this.mode = mode;
    app.permissions = permissionsFor(mode);
    elements.root.dataset["mode"] = mode;
    elements.root.dataset["reviewStatus"] = this.status;
    elements.status.dataset["status"] = this.status;
    elements.status.textContent = `Review: ${STATUS_TEXT[this.status] ?? this.status}`;
    elements.submit.hidden = !review.can_submit || !ANNOTATOR_EDITABLE.includes(this.status);
    elements.submit.disabled = this.busy;
    elements.bar.hidden = mode !== "review";
    elements.approveAll.disabled = this.busy;
    elements.rejectAll.disabled = this.busy;
    if (elements.rejectRest !== undefined) {
      elements.rejectRest.disabled = this.busy;
    }
    elements.banner.hidden = this.comment === "";
    elements.banner.textContent = this.comment ? `Reviewer's comment on this image: ${this.comment}` : "";
    elements.banner.dataset["status"] = this.status;
    // Within this image's root: after an in-page move the document holds another image's toolbar.
    for (const toolButton of elements.root.querySelectorAll<HTMLButtonElement>("button[data-tool]")) {
      // Tools that only make new annotations (tools/registry.ts `creates`) need the create right.
      toolButton.disabled = toolButton.dataset["creates"] === "true" && !app.permissions.create;
    }
    const labelSelect = elements.root.querySelector<HTMLSelectElement>("#label-class");
    if (labelSelect !== null) {
      labelSelect.disabled = !app.permissions.edit && !app.permissions.create;
    }
    if (changed && !app.permissions.create && app.tool !== "select") {
      app.setTool("select");
    }
    this.render(true);
  }

  private setImageState(image: ImageReviewState): void {
    this.status = image.review_status;
    this.comment = image.review_comment;
    this.applyMode();
  }

  /** Submit: save what is pending, then hand the image in. */
  async submit(): Promise<void> {
    await this.act(async () => {
      this.deps.app.setTool(this.deps.app.tool); // drop an unfinished polygon or SAM prompt
      await this.savedNow();
      this.setImageState(await reviewApi.submitImage(this.deps.imageId));
      await this.refresh();
      return "Submitted for review.";
    });
  }

  async decideAnnotation(serverId: number, approve: boolean): Promise<void> {
    await this.act(async () => {
      await this.savedNow(); // a correction is saved before the decision on it
      await reviewApi.reviewAnnotation(serverId, { approve, comment: this.drafts.get(serverId) ?? "" });
      this.drafts.delete(serverId);
      await this.refresh();
      return `Annotation #${serverId} ${approve ? "approved" : "rejected"}.`;
    });
  }

  /**
   * Approve everything, or reject the image: plainly (the annotations not decided yet stay as they
   * are, the comment stays on the image) or with `rejectRest`, which rejects those too.
   */
  async decideImage(approve: boolean, rejectRest = false): Promise<void> {
    await this.act(async () => {
      await this.savedNow();
      const comment = this.deps.elements.imageComment.value;
      const decision = { approve, comment, ...(rejectRest ? { reject_rest: true } : {}) };
      this.setImageState(await reviewApi.reviewImage(this.deps.imageId, decision));
      this.deps.elements.imageComment.value = "";
      await this.refresh();
      return approve ? "Image approved." : rejectRest ? "Image and the undecided annotations rejected." : "Image rejected.";
    });
  }

  /** Reopen the SAM session of a SAM annotation: decode its stored prompts again; Enter replaces it. */
  async reopen(localId: string): Promise<void> {
    const { app, sam, store } = this.deps;
    const doc = store.find(localId);
    const stored = doc ? promptFromStored(doc.prompts) : null;
    if (stored === null) {
      this.say("This annotation has no stored SAM prompts to reopen.", true);
      return;
    }
    app.setTool("sam");
    app.selected = localId;
    app.reopened = localId;
    this.deps.elements.root.dataset["reopened"] = localId;
    this.render();
    this.say("SAM session reopened: click to refine, Enter replaces the annotation, Esc cancels.", false);
    await sam.restore(stored.prompt, stored.maskIndex);
  }

  /** AnnotatorApp's hook for Enter on a reopened session: PATCH the same annotation with the new mask. */
  replaceGeometry(localId: string, polygons: Polygons, prompts: Record<string, unknown>): void {
    const { app, saver, store } = this.deps;
    delete this.deps.elements.root.dataset["reopened"];
    const serverId = saver.serverIdOf(localId);
    if (serverId === undefined) {
      store.update(localId, { polygons, prompts }); // not on the server yet: the autosaver creates it
      return;
    }
    void this.act(async () => {
      await this.savedNow();
      const server = await saveReplacedGeometry(saver, store, localId, serverId, { polygons, prompts });
      app.setTool("select");
      app.selected = localId;
      if (server === null) {
        throw new Error(`annotation #${serverId} was changed by someone else meanwhile; your new mask is kept here`);
      }
      await this.refresh();
      return `Annotation #${serverId} replaced by the new SAM mask (version ${server.version}).`;
    });
  }

  /** Resolve once the autosaver holds nothing unsaved; reject when saving failed. */
  private async savedNow(): Promise<void> {
    const { saver } = this.deps;
    if (await saver.saveAndWait(SAVE_WAIT_MS)) {
      return;
    }
    if (saver.state === "error" || saver.state === "conflict") {
      throw new Error(`your edits are not saved (${saver.state}); fix that first`);
    }
    throw new Error("saving your edits takes too long; try again");
  }

  private async act(action: () => Promise<string>): Promise<void> {
    if (this.busy) {
      return;
    }
    this.busy = true;
    this.deps.elements.root.dataset["reviewBusy"] = "true";
    this.applyMode();
    try {
      this.say(await action(), false);
    } catch (error) {
      this.say(describeError(error), true);
    } finally {
      this.busy = false;
      this.deps.elements.root.dataset["reviewBusy"] = "false";
      this.applyMode();
    }
  }

  private say(text: string, isError: boolean): void {
    const { message } = this.deps.elements;
    message.textContent = text;
    message.hidden = text === "";
    message.dataset["kind"] = isError ? "error" : "info";
    message.setAttribute("role", isError ? "alert" : "status");
  }
}

/**
 * PATCH a reopened annotation's new mask on top of the version this page holds (not the server's
 * latest: a label or status changed meanwhile by someone else must not be overruled silently). On a
 * stale version, as with any other save, the new mask stays in the page, saving it waits and the
 * conflict banner offers to apply it over the server's copy; the answer is then null.
 */
export async function saveReplacedGeometry(
  saver: Pick<Autosaver, "versionOf" | "adopt" | "holdConflict">,
  store: Pick<DocumentStore, "update">,
  localId: string,
  serverId: number,
  change: { polygons: Polygons; prompts: Record<string, unknown> },
): Promise<ServerAnnotation | null> {
  const version = saver.versionOf(localId);
  if (version === undefined) {
    throw new Error(`annotation #${serverId} is not saved yet`);
  }
  let server: ServerAnnotation;
  try {
    server = await api.updateAnnotation(serverId, version, change);
  } catch (error) {
    const current = conflictCopy(error);
    if (current === null) {
      throw error;
    }
    saver.holdConflict(localId, current); // first, so that the autosaver does not PATCH the stale version
    store.update(localId, change);
    return null;
  }
  saver.adopt(localId, server); // first, so that the autosaver sees nothing left to save
  store.update(localId, { polygons: server.polygons, prompts: server.prompts });
  return server;
}

function badge(className: string, text: string): HTMLSpanElement {
  const span = document.createElement("span");
  span.className = `badge ${className}`;
  span.textContent = text;
  return span;
}

function toggle(className: string, text: string, pressed: boolean, title: string, onClick: () => void): HTMLButtonElement {
  const element = document.createElement("button");
  element.type = "button";
  element.className = className;
  element.textContent = text;
  element.title = title;
  element.setAttribute("aria-pressed", String(pressed));
  element.addEventListener("click", (event) => {
    event.stopPropagation();
    onClick();
    element.blur(); // the keys stay the canvas's
  });
  return element;
}
