import { describe, expect, it } from "vitest";
import { bestCandidate, cycleCandidates, normalizeBox, officialMaskIndex, promptToFeeds, type EmbeddingTensor } from "./feeds";

const embedding: EmbeddingTensor = { data: new Float32Array(2 * 4 * 4), shape: [2, 4, 4] };
const image = { width: 1400, height: 600 }; // scale 1024 / 1400

describe("promptToFeeds", () => {
  it("scales clicks by the longest side and appends the padding point without a box", () => {
    const feeds = promptToFeeds(
      { points: [{ x: 1400, y: 600, positive: true }, { x: 700, y: 300, positive: false }], box: null },
      embedding,
      image,
      1024,
      null,
    );
    expect(feeds.point_coords.dims).toEqual([1, 3, 2]);
    expect(Array.from(feeds.point_coords.data)).toEqual(
      [1024, 600 * (1024 / 1400), 512, 300 * (1024 / 1400), 0, 0].map((v) => Math.fround(v)),
    );
    expect(Array.from(feeds.point_labels.data)).toEqual([1, 0, -1]);
    expect(feeds.point_labels.dims).toEqual([1, 3]);
    expect(feeds.image_embeddings.dims).toEqual([1, 2, 4, 4]);
    expect(feeds.mask_input.dims).toEqual([1, 1, 16, 16]);
    expect(Array.from(feeds.has_mask_input.data)).toEqual([0]);
    expect(Array.from(feeds.orig_im_size.data)).toEqual([600, 1400]);
  });

  it("turns a box dragged in any direction into corners labelled 2 and 3, no padding", () => {
    const feeds = promptToFeeds({ points: [], box: { x0: 700, y0: 500, x1: 0, y1: 100 } }, embedding, image, 1024, null);
    const s = 1024 / 1400;
    expect(Array.from(feeds.point_coords.data)).toEqual([0, 100 * s, 700 * s, 500 * s].map((v) => Math.fround(v)));
    expect(Array.from(feeds.point_labels.data)).toEqual([2, 3]);
  });

  it("puts clicks before the box corners", () => {
    const feeds = promptToFeeds(
      { points: [{ x: 10, y: 10, positive: true }], box: { x0: 0, y0: 0, x1: 20, y1: 20 } },
      embedding,
      { width: 512, height: 512 },
      512,
      null,
    );
    expect(Array.from(feeds.point_labels.data)).toEqual([1, 2, 3]);
    expect(Array.from(feeds.point_coords.data)).toEqual([10, 10, 0, 0, 20, 20]);
  });

  it("feeds back the previous low-res mask and flags it", () => {
    const previous = new Float32Array(16 * 16).fill(3);
    const feeds = promptToFeeds({ points: [{ x: 1, y: 1, positive: true }], box: null }, embedding, image, 1024, previous);
    expect(feeds.mask_input.data).toBe(previous);
    expect(Array.from(feeds.has_mask_input.data)).toEqual([1]);
  });

  it("rejects an empty prompt and a wrongly sized previous mask", () => {
    expect(() => promptToFeeds({ points: [], box: null }, embedding, image, 1024, null)).toThrow(RangeError);
    expect(() =>
      promptToFeeds({ points: [{ x: 1, y: 1, positive: true }], box: null }, embedding, image, 1024, new Float32Array(5)),
    ).toThrow(RangeError);
  });
});

describe("mask choice", () => {
  const ious = [0.99, 0.2, 0.8, 0.5];

  it("shows the best multimask candidate for one click or a box alone, output 0 otherwise", () => {
    expect(officialMaskIndex(ious, 2)).toBe(2);
    expect(officialMaskIndex(ious, 3)).toBe(0);
    expect(officialMaskIndex([0.4], 2)).toBe(0);
    expect(bestCandidate([0, 0.1, 0.1, 0.3])).toBe(3);
  });

  it("cycles the three candidates only while they are the ones shown", () => {
    expect(cycleCandidates(4, 2)).toEqual([1, 2, 3]);
    expect(cycleCandidates(4, 3)).toEqual([0]);
    expect(cycleCandidates(1, 2)).toEqual([0]);
  });

  it("normalises boxes", () => {
    expect(normalizeBox({ x0: 5, y0: 9, x1: 1, y1: 2 })).toEqual({ x0: 1, y0: 2, x1: 5, y1: 9 });
  });
});
