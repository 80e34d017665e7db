import { describe, expect, it } from "vitest";
import { maskToPolygons, pointInRing } from "./maskToPolygons";
import { maskIoU, polygonsToMask } from "./rasterize";
import { simplifyMask, vertexCount } from "./simplify";

/** A SAM-like object: a wobbly blob with a hole and a small separate piece, 320x240. */
function blobMask(): { mask: Uint8Array; size: { width: number; height: number } } {
  const width = 320;
  const height = 240;
  const mask = new Uint8Array(width * height);
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const dx = x + 0.5 - 150;
      const dy = y + 0.5 - 120;
      const angle = Math.atan2(dy, dx);
      const radius = 90 * (1 + 0.18 * Math.sin(5 * angle) + 0.05 * Math.sin(13 * angle + 1));
      const inBlob = Math.hypot(dx, dy) < radius && Math.hypot(dx + 20, dy - 10) > 18;
      const inPiece = Math.hypot(x + 0.5 - 285, y + 0.5 - 40) < 14;
      mask[y * width + x] = inBlob || inPiece ? 1 : 0;
    }
  }
  return { mask, size: { width, height } };
}

describe("polygonsToMask", () => {
  it("rasterises the exact pixel-edge trace back to the mask", () => {
    const { mask, size } = blobMask();
    const polygons = maskToPolygons(mask, size, 0, 1);
    expect(polygonsToMask(polygons, size)).toEqual(mask);
  });

  it("fills by pixel centre, holes left open", () => {
    const size = { width: 6, height: 6 };
    const square = [[[1, 1, 5, 1, 5, 5, 1, 5], [2, 2, 2, 4, 4, 4, 4, 2]]];
    const mask = polygonsToMask(square, size);
    expect(mask.reduce((a, b) => a + b, 0)).toBe(16 - 4);
    expect(mask[2 * 6 + 2]).toBe(0);
    expect(mask[1 * 6 + 1]).toBe(1);
  });
});

describe("simplifyMask", () => {
  it("keeps IoU >= 0.99 with far fewer vertices than the trace", () => {
    const { mask, size } = blobMask();
    const exact = vertexCount(maskToPolygons(mask, size, 0));
    const result = simplifyMask(mask, size);
    expect(result.iou).toBeGreaterThanOrEqual(0.99);
    expect(maskIoU(polygonsToMask(result.polygons, size), mask, size)).toBeGreaterThanOrEqual(0.99);
    expect(exact).toBeGreaterThan(300);
    expect(result.vertices).toBeLessThan(exact / 5);
    // Also fewer than the old fixed Detail default (tolerance 1).
    expect(result.vertices).toBeLessThan(vertexCount(maskToPolygons(mask, size, 1)));
    // The hole and the separate piece survive.
    expect(result.polygons).toHaveLength(2);
    expect(result.polygons[0]).toHaveLength(2);
    expect(pointInRing(130.5, 130.5, result.polygons[0]![1]!)).toBe(true);
  });

  it("a stricter IoU keeps more vertices", () => {
    const { mask, size } = blobMask();
    const loose = simplifyMask(mask, size, { minIoU: 0.97 });
    const strict = simplifyMask(mask, size, { minIoU: 0.998 });
    expect(loose.vertices).toBeLessThan(strict.vertices);
    expect(strict.iou).toBeGreaterThanOrEqual(0.998);
  });

  it("an axis-aligned rectangle becomes its 4 corners; an empty mask gives nothing", () => {
    const size = { width: 30, height: 20 };
    const mask = new Uint8Array(600);
    for (let y = 3; y < 15; y += 1) for (let x = 5; x < 25; x += 1) mask[y * 30 + x] = 1;
    const result = simplifyMask(mask, size);
    expect(result.vertices).toBe(4);
    expect(result.iou).toBe(1);
    expect(simplifyMask(new Uint8Array(600), size).polygons).toEqual([]);
  });
});
