import { describe, expect, it } from "vitest";
import { candidateMask } from "./session";
import type { DecodeResult } from "./messages";
import { upscaleCandidate, upscalePlan, upscaleTaps, upscaleThreshold } from "./upscale";

// Reference values from segmentation.sam.onnx_decoder (upscale_taps / upscale_low_res), whose
// Python tests check them against the plain export's in-graph upscaling.
const TAP_INDEX = [0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2];
const TAP_WEIGHT = [1.0, 0.0, 0.0, 0.0, 0.34615, 0.0, 0.65385, 0.0, 0.57692, 0.0, 0.37019, 0.05288, 0.70673, 0.10096, 0.12019, 0.07212, 0.03365, 0.00481, 0.60096, 0.36058, 0.16827, 0.10096, 0.27404, 0.45673, 0.1875, 0.3125, 0.0625, 0.4375, 0.09135, 0.63942, 0.23558, 0.03365, 0.84135, 0.12019, 0.02404, 0.01442, 0.16827, 0.02404, 0.50481, 0.30288, 0.26442, 0.15865, 0.21635, 0.36058, 0.24519, 0.40865, 0.04327, 0.30288, 0.11058, 0.77404, 0.01442, 0.10096];
const MASKS =
  "111111110011111111001111111000111111000011111000001111000000111100000011110000001111000000111100000111110000111111000111111100" +
  "111111110011111111001111111000111111000011111000001111000000111100000011110000001111000000111100000111110000";

describe("upscale", () => {
  it("taps match the Python reference (resize to the square, crop, resize to the image)", () => {
    const taps = upscaleTaps(13, 10, 16, 64);
    expect(Array.from(taps.index)).toEqual(TAP_INDEX);
    Array.from(taps.weight).forEach((w, i) => expect(w).toBeCloseTo(TAP_WEIGHT[i]!, 4));
  });

  it("upscales and thresholds every output like the Python reference", () => {
    const low = Float32Array.from({ length: 2 * 16 * 16 }, (_, i) => Math.sin(i * 0.37) * 3 + 0.2);
    const masks = upscaleThreshold(low, 2, upscalePlan(13, 9, 16, 64));
    expect(Array.from(masks).join("")).toBe(MASKS);
  });

  it("crops the padding: a 2:1 image keeps the square's right half, a 1:2 image never reaches it", () => {
    const low = Float32Array.from({ length: 256 * 256 }, (_, i) => (i % 256 >= 128 ? 5 : -3));
    const wide = upscaleThreshold(low, 1, upscalePlan(50, 100, 256, 1024));
    expect(wide[10 * 100 + 40]).toBe(0);
    expect(wide[10 * 100 + 60]).toBe(1);
    expect(upscaleThreshold(low, 1, upscalePlan(100, 50, 256, 1024)).every((v) => v === 0)).toBe(true);
  });

  it("one candidate (the worker's shown mask) equals that slice of all outputs", () => {
    const low = Float32Array.from({ length: 2 * 16 * 16 }, (_, i) => Math.sin(i * 0.37) * 3 + 0.2);
    const plan = upscalePlan(13, 9, 16, 64);
    expect(Array.from(upscaleCandidate(low, 1, plan)).join("")).toBe(MASKS.slice(13 * 9));
    expect(Array.from(upscaleCandidate(low, 0, plan)).join("")).toBe(MASKS.slice(0, 13 * 9));
  });

  it("the page upscales another candidate lazily (Tab) and keeps the worker's one as sent", () => {
    const low = Float32Array.from({ length: 2 * 16 * 16 }, (_, i) => Math.sin(i * 0.37) * 3 + 0.2);
    const sent = upscaleCandidate(low, 1, upscalePlan(13, 9, 16, 64));
    const result = {
      type: "decode", id: 1, masks: sent, maskIndex: 1, outputCount: 2, width: 9, height: 13,
      ious: new Float32Array(2), lowRes: low, lowResSize: 16, encoderInputSize: 64, decodeMs: 1, graph: "first-click",
    } satisfies DecodeResult;
    expect(candidateMask(result, 1)).toBe(sent);
    const other = candidateMask(result, 0);
    expect(Array.from(other).join("")).toBe(MASKS.slice(0, 13 * 9));
    expect(candidateMask(result, 0)).toBe(other); // once per result
  });
});
