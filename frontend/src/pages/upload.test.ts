import { describe, expect, it } from "vitest";
import { batchesOf } from "./upload";
import { readyPercent } from "./projectLive";
import { reasonsOf } from "../api/projects";

describe("upload batches", () => {
  it("cuts by file count and by bytes, a big file alone", () => {
    const files = [5, 5, 5, 50, 5].map((size) => ({ size }));
    expect(batchesOf(files, 2, 20).map((batch) => batch.map((f) => f.size))).toEqual([[5, 5], [5], [50], [5]]);
    expect(batchesOf([], 2, 20)).toEqual([]);
  });
});

describe("project page helpers", () => {
  it("ready percent and refusal reasons", () => {
    expect(readyPercent({ pending: 1, running: 0, ready: 3, failed: 0, total: 4 })).toBe(75);
    expect(readyPercent({ pending: 0, running: 0, ready: 0, failed: 0, total: 0 })).toBe(0);
    expect(reasonsOf({ detail: "Invalid.", dicom_window: ["Unknown preset"] }, "x")).toBe("dicom_window: Unknown preset");
    expect(reasonsOf({ detail: "Invalid." }, "x")).toBe("Invalid.");
    expect(reasonsOf(null, "x")).toBe("x");
  });
});
