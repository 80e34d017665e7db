import { describe, expect, it } from "vitest";
import { ApiError } from "../api/http";
import { errorText, type FinetuneRun, type ModelVersion } from "../api/finetuning";
import {
  better,
  curveCaption,
  durationText,
  epochRows,
  lineage,
  lossCurvePoints,
  measuredQuality,
  metricValue,
  modelStatusText,
  nextRunText,
  progressText,
  qualityText,
  stepRows,
} from "./format";

const version = (id: number, parent: number | null, extra: Partial<ModelVersion> = {}): ModelVersion => ({
  id,
  name: `m${id}`,
  parent_id: parent,
  created_at: "2026-01-01T00:00:00Z",
  active: false,
  builtin_default: false,
  metrics: null,
  training_seconds: null,
  ...extra,
});

const run = (extra: Partial<FinetuneRun>): FinetuneRun => ({
  id: 1,
  status: "done",
  params: {},
  base_model: 1,
  result_model: 2,
  progress: {},
  history: null,
  metrics: null,
  decision: "",
  message: "",
  train_objects: 10,
  heldout_objects: 10,
  created_at: "",
  started_at: null,
  finished_at: null,
  seconds: null,
  ...extra,
});

describe("lineage", () => {
  const versions = [version(1, null, { builtin_default: true }), version(2, 1), version(3, 2), version(9, null)];

  it("walks from the root down to the model", () => {
    expect(lineage(versions, 3).map((v) => v.id)).toEqual([1, 2, 3]);
    expect(lineage(versions, 9).map((v) => v.id)).toEqual([9]);
    expect(lineage(versions, 42)).toEqual([]);
  });

  it("stops on a parent it does not know and on a cycle", () => {
    expect(lineage([version(5, 4)], 5).map((v) => v.id)).toEqual([5]);
    expect(lineage([version(1, 2), version(2, 1)], 1).map((v) => v.id)).toEqual([2, 1]);
  });
});

describe("measured quality", () => {
  const tunedMetrics = { "mIoU@1": 0.8123, "NoC@90": 2.5 };
  const baseMetrics = { "mIoU@1": 0.5, "NoC@90": 6 };

  it("is a version's own tuned metrics, or a base's metrics from the run that measured it", () => {
    expect(measuredQuality(version(2, 1, { metrics: { base: baseMetrics, tuned: tunedMetrics } }), [])).toBe(tunedMetrics);
    const runs = [run({ base_model: { id: 1 }, metrics: { base: baseMetrics, tuned: tunedMetrics } })];
    expect(measuredQuality(version(1, null), runs)).toBe(baseMetrics);
    expect(measuredQuality(version(1, null), [])).toBeNull();
  });

  it("reads as text, with the default model's warning in the annotator's line", () => {
    expect(qualityText(tunedMetrics)).toBe("held-out mIoU@1 0.812 · NoC@90 2.50");
    expect(qualityText(null)).toContain("not measured");
    const versions = [
      version(1, null, { name: "default", builtin_default: true }),
      version(2, 1, { name: "default ft1", metrics: { tuned: tunedMetrics } }),
    ];
    expect(modelStatusText(versions, [], 2)).toBe("model: default ft1 (version 1 of default) · held-out mIoU@1 0.812 · NoC@90 2.50");
    const base = modelStatusText(versions, [], 1);
    expect(base).toContain("model: default · quality not measured");
    expect(base).toContain("download_model vit_b --default");
  });
});

describe("numbers", () => {
  it("formats metrics, comparisons and durations", () => {
    expect(metricValue({ "mIoU@1": 0.5 }, "mIoU@1")).toBe("0.500");
    expect(metricValue({ "NoC@90": 3 }, "NoC@90")).toBe("3.00");
    expect(metricValue({ "fail@90": 0.25 }, "fail@90", true)).toBe("25%");
    expect(metricValue(undefined, "mIoU@1")).toBe("–");
    expect(better(0.5, 0.6, false)).toBe(true);
    expect(better(3, 4, true)).toBe(false);
    expect(better(3, 3, true)).toBeNull();
    expect(durationText(42.4)).toBe("42 s");
    expect(durationText(185)).toBe("3 min 05 s");
    expect(durationText(null)).toBe("–");
  });
});

describe("history", () => {
  const history = {
    epochs: [{ epoch: 1, loss: 0.5, heldout: 0.6, seconds: 3 }],
    steps: [{ step: 1, loss: 1 }, { step: 2, loss: 0.5 }, { step: 3, loss: Number.NaN }, { step: 4, loss: 0 }],
  };

  it("splits steps from epochs, in either stored shape", () => {
    expect(stepRows(history).map((r) => r.step)).toEqual([1, 2, 4]);
    expect(epochRows(history)).toEqual(history.epochs);
    expect(stepRows([{ step: 1, loss: 1 }, { epoch: 1, heldout: 0.5 }]).length).toBe(1);
    expect(epochRows([{ step: 1, loss: 1 }, { epoch: 1, heldout: 0.5 }]).length).toBe(1);
    expect(stepRows(null)).toEqual([]);
  });

  it("draws the loss curve inside the box: first step top left, lowest loss at the bottom", () => {
    const points = lossCurvePoints(stepRows(history), 104, 44).split(" ").map((p) => p.split(",").map(Number));
    expect(points).toEqual([[2, 2], [35.3, 22], [102, 42]]);
    expect(lossCurvePoints([{ step: 1, loss: 1 }], 100, 40)).toBe("");
    expect(curveCaption(stepRows(history))).toBe("training loss 1.000 at step 1 → 0.000 at step 4");
    expect(curveCaption([{ step: 1, loss: 1 }])).toBe("loss curve: one step so far");
    expect(curveCaption([])).toBe("");
  });

  it("names the run's progress", () => {
    expect(progressText(run({ status: "queued" }))).toContain("queued");
    const running = run({ status: "running", progress: { epoch: 2, step: 40, loss: 0.12345, heldout: 0.7 } });
    expect(progressText(running)).toBe("running · epoch 2 · step 40 · loss 0.1235 · held-out score 0.700");
    expect(progressText({ ...running, cancel_requested: true })).toMatch(/^cancelling/);
    expect(progressText(run({ status: "running", progress: { epoch: null, step: 3, loss: null, heldout: null } })))
      .toBe("running · step 3");
  });
});

describe("continuous learning and errors", () => {
  it("says when the next run starts", () => {
    expect(nextRunText(0, 5)).toBe("Continuous learning is off.");
    expect(nextRunText(50, 7)).toBe("Next run after 7 more approved or corrected annotations.");
    expect(nextRunText(50, 1)).toBe("Next run after 1 more approved or corrected annotation.");
    expect(nextRunText(50, null)).toContain("every 50");
  });

  it("turns API errors into sentences", () => {
    const tooFew = "Fine-tuning needs at least 10 training and 10 held-out objects with embeddings.";
    expect(errorText(new ApiError(400, { detail: tooFew }))).toBe(tooFew);
    expect(errorText(new ApiError(400, { detail: "Invalid input.", minutes: ["Ensure this value is greater than 0."] })))
      .toBe("minutes: Ensure this value is greater than 0.");
    expect(errorText(new ApiError(403, null))).toBe("The server answered HTTP 403.");
    expect(errorText(new Error("network down"))).toBe("network down");
  });
});
