import { describe, expect, it } from "vitest";

import { fitView, panBy, screenToImage, zoomAt, type Point, type View } from "./transforms";

// The forward mapping as render/draw.ts applies it to the canvas (setTransform(zoom, 0, 0, zoom,
// panX, panY)); screenToImage must invert exactly this.
function canvasToScreen(point: Point, view: View): Point {
  return { x: point.x * view.zoom + view.panX, y: point.y * view.zoom + view.panY };
}

const IDENTITY: View = { zoom: 1, panX: 0, panY: 0 };

describe("screen space", () => {
  it("identity view changes nothing", () => {
    expect(screenToImage({ x: 3, y: 4 }, IDENTITY)).toEqual({ x: 3, y: 4 });
  });

  it("inverts the canvas transform under zoom and pan", () => {
    const view = { zoom: 2.5, panX: -40, panY: 17 };
    const p = { x: 123.25, y: 9.75 };
    const back = screenToImage(canvasToScreen(p, view), view);
    expect(back.x).toBeCloseTo(p.x, 10);
    expect(back.y).toBeCloseTo(p.y, 10);
  });

  it("fits a wide image into a tall viewport, centred vertically", () => {
    const view = fitView({ width: 1000, height: 500 }, { width: 500, height: 500 });
    expect(view).toEqual({ zoom: 0.5, panX: 0, panY: 125 });
    expect(canvasToScreen({ x: 1000, y: 500 }, view)).toEqual({ x: 500, y: 375 });
  });

  it("refuses empty images and viewports", () => {
    expect(() => fitView({ width: 0, height: 10 }, { width: 10, height: 10 })).toThrow(RangeError);
    expect(() => fitView({ width: 10, height: 10 }, { width: 10, height: 0 })).toThrow(RangeError);
  });

  it("zooming keeps the image point under the cursor fixed", () => {
    const view = { zoom: 1.5, panX: 10, panY: 20 };
    const cursor = { x: 200, y: 150 };
    const before = screenToImage(cursor, view);
    const zoomed = zoomAt(view, cursor, 2);
    expect(zoomed.zoom).toBe(3);
    const after = screenToImage(cursor, zoomed);
    expect(after.x).toBeCloseTo(before.x, 10);
    expect(after.y).toBeCloseTo(before.y, 10);
  });

  it("clamps zoom and refuses nonsense factors", () => {
    expect(zoomAt(IDENTITY, { x: 0, y: 0 }, 1000).zoom).toBe(64);
    expect(() => zoomAt(IDENTITY, { x: 0, y: 0 }, 0)).toThrow(RangeError);
    expect(() => zoomAt(IDENTITY, { x: 0, y: 0 }, Number.NaN)).toThrow(RangeError);
  });

  it("pans by screen pixels", () => {
    expect(panBy({ zoom: 2, panX: 1, panY: 2 }, 5, -3)).toEqual({ zoom: 2, panX: 6, panY: -1 });
  });
});

describe("extreme images", () => {
  it("fits extreme aspect ratios inside the viewport and maps screen back to image", () => {
    const strip = { width: 20000, height: 20 };
    const view = fitView(strip, { width: 800, height: 600 });
    expect(view.zoom).toBeCloseTo(0.04, 12);
    const corner = canvasToScreen({ x: 20000, y: 20 }, view);
    expect(corner.x).toBeCloseTo(800, 9);
    expect(corner.y).toBeLessThanOrEqual(600);
    const p = screenToImage(canvasToScreen({ x: 12345, y: 7 }, view), view);
    expect(p.x).toBeCloseTo(12345, 6);
    expect(p.y).toBeCloseTo(7, 6);
  });
});
