import { describe, expect, it } from "vitest";
import { parseStoredWindow, seriesTarget, seriesWindowKey, wheelSteps, type Series } from "./series";
import { describeRun, type PropagationRun } from "../api/propagation";

const series: Series = { image_ids: [7, 8, 9], urls: ["/a", "/b", "/c"], position: 1 };

describe("series navigation", () => {
  it("steps within the series and stops at its ends", () => {
    expect(seriesTarget(series, 1)).toBe(2);
    expect(seriesTarget(series, -1)).toBe(0);
    expect(seriesTarget(series, 2)).toBeNull();
    expect(seriesTarget({ ...series, position: 0 }, -1)).toBeNull();
  });

  it("turns wheel deltas into slices, carrying pixel remainders", () => {
    expect(wheelSteps(3, 1, 0)).toEqual({ steps: 1, carried: 0 }); // one line = one slice
    expect(wheelSteps(-120, 0, 0)).toEqual({ steps: -1, carried: -20 });
    const first = wheelSteps(60, 0, 0);
    expect(first.steps).toBe(0);
    expect(wheelSteps(60, 0, first.carried)).toEqual({ steps: 1, carried: 20 });
  });

  it("keeps the window per series and refuses stored junk", () => {
    expect(seriesWindowKey(series)).toBe("sam-series-window:7");
    expect(parseStoredWindow('{"center": 40, "width": 400}')).toEqual({ center: 40, width: 400 });
    expect(parseStoredWindow('{"center": 40, "width": 0}')).toBeNull();
    expect(parseStoredWindow("not json")).toBeNull();
    expect(parseStoredWindow(null)).toBeNull();
  });
});

describe("propagation status line", () => {
  const run = (status: PropagationRun["status"], progress: object, error = ""): PropagationRun =>
    ({ id: 1, seed: 2, status, params: {}, progress, error, created_at: "", finished_at: null }) as PropagationRun;

  it("says how far it got and why it stopped", () => {
    expect(describeRun(run("running", { done: 3, total: 12 }))).toBe("propagating 3 / 12 slices");
    expect(describeRun(run("done", { created: 7, stopped: { after: "slice 30: predicted IoU 0.61 < 0.70", before: "range" } }))).toBe(
      "propagated: 7 drafts (after: slice 30: predicted IoU 0.61 < 0.70; before: range)",
    );
    expect(describeRun(run("failed", {}, "RuntimeError: no embedding"))).toBe("propagation failed: RuntimeError: no embedding");
  });
});
