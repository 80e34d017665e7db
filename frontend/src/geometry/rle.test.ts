import { describe, expect, it } from "vitest";
import { countsToString, maskToCounts, rleDecode, rleEncode, stringToCounts } from "./rle";

describe("COCO RLE", () => {
  it("matches pycocotools' bytes for a known mask", () => {
    // pycocotools (annotator.geometry.rle_encode) gives "231" for [[0,1,1],[0,1,0]]:
    // column-major runs: 2 zeros (col 0), 3 ones (col 1 both, col 2 top), 1 zero.
    const mask = new Uint8Array([0, 1, 1, 0, 1, 0]);
    const size = { width: 3, height: 2 };
    expect(maskToCounts(mask, size)).toEqual([2, 3, 1]);
    expect(rleEncode(mask, size)).toEqual({ size: [2, 3], counts: "231" });
  });

  it("the server's RLE of a 10x10 square at (4,2) in 40x30 decodes to that square", () => {
    // annotator.geometry.rle_encode of mask[2:12, 4:14] = 1 on a 30x40 mask.
    const mask = new Uint8Array(40 * 30);
    for (let y = 2; y < 12; y += 1) for (let x = 4; x < 14; x += 1) mask[y * 40 + x] = 1;
    const rle = rleEncode(mask, { width: 40, height: 30 });
    expect(rle.counts).toBe("j3:d000000000000000000Zh0");
    expect(rleDecode(rle).mask).toEqual(mask);
  });

  it("round-trips large and negative differences", () => {
    const counts = [100000, 3, 5, 70000, 1, 2000000, 7];
    expect(stringToCounts(countsToString(counts))).toEqual(counts);
  });

  it("round-trips random masks exactly", () => {
    let seed = 7;
    const random = (): number => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    for (const [width, height] of [[1, 1], [17, 9], [64, 48]] as const) {
      const mask = new Uint8Array(width * height).map(() => (random() < 0.3 ? 1 : 0));
      const rle = rleEncode(mask, { width, height });
      expect(rleDecode(rle).mask).toEqual(mask);
    }
  });

  it("refuses runs that do not fit the size", () => {
    expect(() => rleDecode({ size: [2, 2], counts: countsToString([3, 3]) })).toThrow(RangeError);
    expect(() => rleDecode({ size: [2, 2], counts: countsToString([1, 1]) })).toThrow(RangeError);
  });
});
