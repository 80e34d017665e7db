import { describe, expect, it } from "vitest";
import { phaseMarkTimes } from "./phases";

describe("phaseMarkTimes", () => {
  it("turns the worker's epoch times into page-relative marks, in time order", () => {
    const marks = phaseMarkTimes({ "runtime-ready": 1_000_250, "worker-start": 1_000_040, bad: Number.NaN, before: 999_000 }, 1_000_000);
    expect(marks).toEqual([
      ["sam:worker-start", 40],
      ["sam:runtime-ready", 250],
    ]);
  });
});
