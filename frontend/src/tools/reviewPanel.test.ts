import { describe, expect, it } from "vitest";
import { ApiError } from "../api/http";
import type { DecoderClient } from "../sam/decoderClient";
import type { Prompt } from "../sam/feeds";
import type { DecodeResult } from "../sam/messages";
import { describeError, originOf, pageMode, permissionsFor, promptFromStored } from "./reviewPanel";
import { SamSession } from "./samSession";

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

  it("lets reviewers correct but not create or delete", () => {
    expect(permissionsFor("review", "reviewer")).toEqual({ create: false, edit: true, delete: false });
    expect(permissionsFor("review", "manager")).toEqual({ create: true, edit: true, delete: true });
    expect(permissionsFor("annotate", "annotator")).toEqual({ create: true, edit: true, delete: true });
    expect(permissionsFor("read", "manager")).toEqual({ create: false, edit: false, delete: false });
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
