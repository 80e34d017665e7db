import { afterEach, describe, expect, it, vi } from "vitest";
import * as api from "../api/annotator";
import type { ServerAnnotation } from "../api/annotator";
import { ApiError } from "../api/http";
import { Autosaver, canonicalJson } from "./autosave";
import { DocumentStore } from "./document";

vi.mock("../api/annotator", async (original) => ({
  ...(await original<typeof import("../api/annotator")>()),
  updateAnnotation: vi.fn(),
}));

const square = [[[0, 0, 4, 0, 4, 4, 0, 4]]];
const moved = [[[1, 1, 5, 1, 5, 5, 1, 5]]];
const server = (version: number, polygons = square): ServerAnnotation => ({
  id: 9, label_class: 1, polygons, source: "manual", prompts: {}, time_spent_ms: 0, click_count: 0, version,
  author: 1, author_name: "a", status: "draft", review_comment: "", edited_after_sam: false,
});

function page() {
  const store = new DocumentStore({
    annotations: [{ localId: "a", labelClass: 1, polygons: square, source: "manual", prompts: {}, timeSpentMs: 0, clickCount: 0 }],
  });
  const saver = new Autosaver(3, store, { onState: () => undefined, onConflict: () => undefined }, 60_000);
  saver.adopt("a", server(1));
  return { store, saver };
}

describe("Autosaver.saveAndWait (leaving an image waits for its edits)", () => {
  const update = vi.mocked(api.updateAnnotation);
  afterEach(() => update.mockReset());

  it("saves at once (not after the autosave delay) and answers true once saved", async () => {
    const { store, saver } = page();
    store.update("a", { polygons: moved });
    update.mockResolvedValueOnce(server(2, moved));
    expect(await saver.saveAndWait(2000)).toBe(true);
    expect(update).toHaveBeenCalledWith(9, 1, { label_class: 1, polygons: moved });
    expect(saver.versionOf("a")).toBe(2);
  });

  it("answers false on a stale version, keeping the change", async () => {
    const { store, saver } = page();
    store.update("a", { polygons: moved });
    update.mockRejectedValueOnce(new ApiError(409, { detail: "changed", current: server(5) }));
    expect(await saver.saveAndWait(2000)).toBe(false);
    expect(saver.state).toBe("conflict");
    expect(store.find("a")?.polygons).toEqual(moved);
  });

  it("answers false while the server keeps failing", async () => {
    const { store, saver } = page();
    store.update("a", { polygons: moved });
    update.mockRejectedValue(new ApiError(503, null));
    expect(await saver.saveAndWait(2000)).toBe(false);
    expect(saver.state).toBe("error");
  });

  it("answers true at once when nothing is pending", async () => {
    const { saver } = page();
    expect(await saver.saveAndWait(10)).toBe(true);
    expect(update).not.toHaveBeenCalled();
  });
});

describe("canonicalJson", () => {
  it("ignores key order at every level and keeps array order", () => {
    expect(canonicalJson({ b: 1, a: { d: [2, 1], c: null } })).toBe(canonicalJson({ a: { c: null, d: [2, 1] }, b: 1 }));
    expect(canonicalJson({ a: [1, 2] })).not.toBe(canonicalJson({ a: [2, 1] }));
    expect(canonicalJson(undefined)).toBe("{}");
  });
});
