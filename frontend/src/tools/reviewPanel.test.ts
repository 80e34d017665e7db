import { afterEach, describe, expect, it, vi } from "vitest";
import * as api from "../api/annotator";
import type { ServerAnnotation } from "../api/annotator";
import { ApiError } from "../api/http";
import type { DecoderClient } from "../sam/decoderClient";
import type { Prompt } from "../sam/feeds";
import type { DecodeResult } from "../sam/messages";
import { Autosaver, type Conflict } from "../state/autosave";
import { DocumentStore } from "../state/document";
import {
  describeError,
  originOf,
  pageMode,
  permissionsFor,
  promptFromStored,
  saveReplacedGeometry,
} from "./reviewPanel";
import { SamSession } from "../sam/session";

vi.mock("../api/annotator", async (original) => ({
  ...(await original<typeof import("../api/annotator")>()),
  updateAnnotation: vi.fn(),
}));

describe("pageMode and permissionsFor (the rules of annotator/access.py)", () => {
  const review = (status: "new" | "submitted" | "approved" | "rejected", can_submit: boolean, can_review: boolean) => ({
    status,
    can_submit,
    can_review,
  });

  it("lets the assigned annotator edit new and rejected images only", () => {
    expect(pageMode("annotator", review("new", true, false))).toBe("annotate");
    expect(pageMode("annotator", review("rejected", true, false))).toBe("annotate");
    expect(pageMode("annotator", review("submitted", true, false))).toBe("read");
    expect(pageMode("annotator", review("approved", true, false))).toBe("read");
    expect(pageMode("annotator", review("new", false, false))).toBe("read"); // not assigned
  });

  it("gives reviewers review mode on submitted images only, managers always something", () => {
    expect(pageMode("reviewer", review("submitted", false, true))).toBe("review");
    expect(pageMode("reviewer", review("submitted", false, false))).toBe("read"); // another reviewer's job
    expect(pageMode("reviewer", review("new", false, true))).toBe("read");
    expect(pageMode("manager", review("submitted", true, true))).toBe("review");
    expect(pageMode("manager", review("approved", true, true))).toBe("annotate");
  });

  it("lets reviewers correct, add and delete during review", () => {
    expect(permissionsFor("review")).toEqual({ create: true, edit: true, delete: true });
    expect(permissionsFor("annotate")).toEqual({ create: true, edit: true, delete: true });
    expect(permissionsFor("read")).toEqual({ create: false, edit: false, delete: false });
  });
});

describe("originOf", () => {
  it("follows the metrics: SAM prompt sources not edited are SAM as is", () => {
    expect(originOf("sam_click", false)).toEqual({ key: "sam", text: "SAM as is" });
    expect(originOf("sam_box", false).key).toBe("sam");
    expect(originOf("sam_click", true)).toEqual({ key: "sam_edited", text: "edited after SAM" });
    expect(originOf("auto", true).key).toBe("sam_edited");
    expect(originOf("auto", false).key).toBe("auto");
    expect(originOf("manual", false)).toEqual({ key: "manual", text: "drawn by hand" });
    expect(originOf("manual", true).key).toBe("manual"); // never from SAM
    expect(originOf("import", false).key).toBe("import");
  });
});

describe("promptFromStored", () => {
  it("turns stored points, box and mask index into a decoder prompt", () => {
    const restored = promptFromStored({ points: [[10, 20, 1], [30.5, 40, 0]], box: [1, 2, 50, 60], mask_index: 2 });
    expect(restored).toEqual({
      prompt: {
        points: [
          { x: 10, y: 20, positive: true },
          { x: 30.5, y: 40, positive: false },
        ],
        box: { x0: 1, y0: 2, x1: 50, y1: 60 },
      },
      maskIndex: 2,
    });
  });

  it("keeps a box-only prompt and ignores malformed entries", () => {
    expect(promptFromStored({ points: [], box: [0, 0, 5, 5] })).toEqual({
      prompt: { points: [], box: { x0: 0, y0: 0, x1: 5, y1: 5 } },
      maskIndex: null,
    });
    expect(promptFromStored({ points: [["a", 1, 1], [5]], box: [1, 2, 3] })).toBeNull();
    expect(promptFromStored({})).toBeNull();
  });
});

describe("describeError", () => {
  it("reads the API's JSON errors", () => {
    expect(describeError(new ApiError(400, { detail: "Invalid input.", comment: ["Say what to fix."] }))).toBe(
      "comment: Say what to fix.",
    );
    expect(describeError(new ApiError(403, { detail: "Only reviewers and managers review." }))).toBe(
      "Only reviewers and managers review.",
    );
    expect(describeError(new ApiError(502, null))).toBe("HTTP 502");
    expect(describeError(new Error("offline"))).toBe("offline");
  });
});

describe("SamSession.restore (Reopen SAM)", () => {
  function fakeDecoder(seen: { prompt: Prompt; previous: Float32Array | null }[]): DecoderClient {
    const result = (): DecodeResult => ({
      type: "decode",
      id: 1,
      masks: new Uint8Array(4 * 2 * 2).map((_, i) => (i % 4 === 0 ? 1 : 0)),
      outputCount: 4,
      width: 2,
      height: 2,
      ious: new Float32Array([0.5, 0.9, 0.6, 0.7]),
      lowRes: new Float32Array(4 * 4),
      lowResSize: 2,
      decodeMs: 1,
      graph: "full",
    });
    return {
      decode: (_key: string, prompt: Prompt, previous: Float32Array | null) => {
        seen.push({ prompt, previous });
        return Promise.resolve(result());
      },
    } as unknown as DecoderClient;
  }

  it("decodes the stored prompt, shows the stored candidate, and refines with the next click", async () => {
    const seen: { prompt: Prompt; previous: Float32Array | null }[] = [];
    const session = new SamSession(() => fakeDecoder(seen), () => "key", () => undefined, (m) => {
      throw new Error(m);
    });
    const stored = promptFromStored({ points: [[10, 20, 1]], mask_index: 3 })!;
    await session.restore(stored.prompt, stored.maskIndex);
    expect(seen[0]).toEqual({ prompt: stored.prompt, previous: null });
    expect(session.active).toBe(true);
    expect(session.shown?.index).toBe(3); // the annotator's choice, not the best IoU (1)
    expect(session.clickCount).toBe(0);

    session.addPoint({ x: 40, y: 20, positive: false });
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(seen[1]!.prompt.points).toHaveLength(2);
    expect(seen[1]!.previous).not.toBeNull(); // the restored mask's logits feed the refinement
    expect(session.shown?.index).toBe(0);
    expect(session.clickCount).toBe(1);
  });

  it("falls back to the decoder's choice when the stored candidate is not offered", async () => {
    const session = new SamSession(() => fakeDecoder([]), () => "key", () => undefined, () => undefined);
    await session.restore({ points: [{ x: 1, y: 1, positive: true }], box: null }, 0);
    expect(session.shown?.index).toBe(1); // one click: candidates 1..3, best IoU
  });
});

describe("saveReplacedGeometry (Enter on a reopened SAM session)", () => {
  const square = [[[0, 0, 10, 0, 10, 10, 0, 10]]];
  const smaller = [[[0, 0, 6, 0, 6, 6, 0, 6]]];
  const prompts = { points: [[3, 3, 1], [8, 8, 0]], mask_index: 0 };
  const serverCopy = (version: number, changes: Partial<ServerAnnotation> = {}): ServerAnnotation => ({
    id: 7, label_class: 1, polygons: square, source: "sam_click", prompts: { points: [[3, 3, 1]] }, time_spent_ms: 0,
    click_count: 1, version, author: 2, author_name: "anton", status: "submitted", review_comment: "",
    edited_after_sam: false, ...changes,
  });
  const update = vi.mocked(api.updateAnnotation);

  function page(version: number) {
    const store = new DocumentStore({
      annotations: [{ localId: "a", labelClass: 1, polygons: square, source: "sam_click", prompts: { points: [[3, 3, 1]] }, timeSpentMs: 0,
        clickCount: 1 }],
    });
    const conflicts: Conflict[] = [];
    const saver = new Autosaver(7, store, { onState: () => undefined, onConflict: (c) => conflicts.push(c) }, 0);
    saver.adopt("a", serverCopy(version));
    return { store, saver, conflicts };
  }

  afterEach(() => update.mockReset());

  it("PATCHes on top of the version the page holds and adopts the answer", async () => {
    const { store, saver } = page(3);
    update.mockResolvedValueOnce(serverCopy(4, { polygons: smaller, prompts, edited_after_sam: true }));
    const server = await saveReplacedGeometry(saver, store, "a", 7, { polygons: smaller, prompts });
    expect(update).toHaveBeenCalledWith(7, 3, { polygons: smaller, prompts });
    expect(server?.version).toBe(4);
    expect(saver.versionOf("a")).toBe(4);
    expect(store.find("a")?.polygons).toEqual(smaller);
    expect(saver.dirty).toBe(false);
  });

  it("turns a stale page's 409 into the conflict banner, keeping the new mask for reapplying", async () => {
    const { store, saver, conflicts } = page(3);
    const current = serverCopy(5, { label_class: 2, status: "approved" }); // someone else meanwhile
    update.mockRejectedValueOnce(new ApiError(409, { detail: "changed", current_version: 5, current }));
    expect(await saveReplacedGeometry(saver, store, "a", 7, { polygons: smaller, prompts })).toBeNull();
    expect(conflicts).toEqual([{ localId: "a", current }]);
    expect(store.find("a")?.polygons).toEqual(smaller); // kept here
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(saver.state).toBe("conflict");
    expect(update).toHaveBeenCalledTimes(1); // no second PATCH on the stale version

    update.mockResolvedValueOnce(serverCopy(6, { polygons: smaller, prompts }));
    saver.reapplyOver("a"); // the banner's "reload and reapply"
    await new Promise((resolve) => setTimeout(resolve, 10));
    // The reopened session's prompts go with its mask, or the server would keep the old click's.
    expect(update).toHaveBeenLastCalledWith(7, 5, { label_class: 1, polygons: smaller, prompts });
    expect(saver.state).toBe("saved");
  });

  it("sees no change when the server returns the same prompts with its keys reordered", async () => {
    const { store, saver } = page(3);
    saver.adopt("a", serverCopy(3, { prompts: { mask_index: 0, points: [[3, 3, 1], [8, 8, 0]] } }));
    store.update("a", { prompts });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(update).not.toHaveBeenCalled();
    expect(saver.dirty).toBe(false);
  });

  it("passes other failures on", async () => {
    const { store, saver, conflicts } = page(3);
    update.mockRejectedValueOnce(new ApiError(403, { detail: "This image is approved." }));
    await expect(saveReplacedGeometry(saver, store, "a", 7, { polygons: smaller, prompts })).rejects.toThrow(ApiError);
    expect(conflicts).toEqual([]);
    expect(store.find("a")?.polygons).toEqual(square);
  });
});
