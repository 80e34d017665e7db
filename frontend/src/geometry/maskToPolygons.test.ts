import { describe, expect, it } from "vitest";
import { maskToPolygons, pointInRing, ringArea, simplifyRing, traceRings } from "./maskToPolygons";

function maskFrom(rows: string[]): { mask: Uint8Array; size: { width: number; height: number } } {
  const height = rows.length;
  const width = rows[0]!.length;
  const mask = new Uint8Array(width * height);
  rows.forEach((row, y) => [...row].forEach((c, x) => (mask[y * width + x] = c === "#" ? 1 : 0)));
  return { mask, size: { width, height } };
}

describe("maskToPolygons", () => {
  it("traces a filled rectangle as one clockwise ring of its pixel edges", () => {
    const { mask, size } = maskFrom(["....", ".##.", ".##.", "...."]);
    const polygons = maskToPolygons(mask, size, 0, 1);
    expect(polygons).toHaveLength(1);
    expect(polygons[0]).toHaveLength(1);
    const ring = polygons[0]![0]!;
    expect(ringArea(ring)).toBe(4);
    expect(new Set(ring.join(",").match(/\d+,\d+/g))).toEqual(new Set(["1,1", "3,1", "3,3", "1,3"]));
  });

  it("keeps a hole as a second ring of the same part", () => {
    const { mask, size } = maskFrom(["#####", "#...#", "#...#", "#...#", "#####"]);
    const polygons = maskToPolygons(mask, size, 0, 1);
    expect(polygons).toHaveLength(1);
    const [outer, hole] = polygons[0]!;
    expect(ringArea(outer!)).toBe(25);
    expect(ringArea(hole!)).toBe(-9);
    expect(pointInRing(2.5, 2.5, hole!)).toBe(true);
  });

  it("returns separate parts, biggest first, and pixels touching only at a corner stay apart", () => {
    const { mask, size } = maskFrom(["##....", "##....", "..#...", ".....#"]);
    const polygons = maskToPolygons(mask, size, 0, 1);
    expect(polygons.map((part) => ringArea(part[0]!))).toEqual([4, 1, 1]);
  });

  it("gives an island inside a hole its own part", () => {
    const { mask, size } = maskFrom(["#######", "#.....#", "#..#..#", "#.....#", "#######"]);
    const polygons = maskToPolygons(mask, size, 0, 1);
    expect(polygons).toHaveLength(2);
    expect(polygons[0]).toHaveLength(2); // frame + hole
    expect(polygons[1]).toHaveLength(1); // the island
    expect(ringArea(polygons[1]![0]!)).toBe(1);
  });

  it("rings trace back the mask exactly: area equals pixel count", () => {
    const width = 40;
    const height = 30;
    const mask = new Uint8Array(width * height);
    for (let y = 0; y < height; y += 1) {
      for (let x = 0; x < width; x += 1) {
        const inDisk = (x - 20) ** 2 + (y - 15) ** 2 < 12 ** 2;
        const inHole = (x - 22) ** 2 + (y - 15) ** 2 < 4 ** 2;
        mask[y * width + x] = inDisk && !inHole ? 1 : 0;
      }
    }
    const pixels = mask.reduce((a, b) => a + b, 0);
    const total = traceRings(mask, { width, height }).reduce((sum, ring) => sum + ringArea(ring), 0);
    expect(total).toBe(pixels);
  });

  it("rejects a mask of the wrong size", () => {
    expect(() => maskToPolygons(new Uint8Array(5), { width: 2, height: 2 })).toThrow(RangeError);
  });
});

describe("simplifyRing", () => {
  it("drops vertices closer than the tolerance and keeps the corners", () => {
    const ring = [0, 0, 5, 0.2, 10, 0, 10, 10, 0, 10];
    expect(simplifyRing(ring, 0.5)).toEqual([0, 0, 10, 0, 10, 10, 0, 10]);
    expect(simplifyRing(ring, 0)).toEqual(ring);
  });
});
