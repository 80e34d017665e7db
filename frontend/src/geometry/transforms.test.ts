import { describe, expect, it } from "vitest";

import {
  fitView,
  IDENTITY_VIEW,
  imageToModel,
  imageToScreen,
  modelInputScale,
  modelInputSize,
  modelToImage,
  panBy,
  screenToImage,
  zoomAt,
} from "./transforms";

describe("model input space", () => {
  it("scales the longest side to the target length", () => {
    expect(modelInputScale({ width: 2048, height: 1024 })).toBe(0.5);
    expect(modelInputScale({ width: 300, height: 600 })).toBeCloseTo(1024 / 600, 12);
    expect(modelInputScale({ width: 100, height: 50 }, 256)).toBe(2.56);
  });

  it("rounds the resized size the way SAM's ResizeLongestSide does", () => {
    // chelsea.png from scikit-image: 451x300 -> 1024 x int(300 * 1024/451 + 0.5) = 681.
    expect(modelInputSize({ width: 451, height: 300 })).toEqual({ width: 1024, height: 681 });
    expect(modelInputSize({ width: 300, height: 451 })).toEqual({ width: 681, height: 1024 });
    expect(modelInputSize({ width: 512, height: 512 })).toEqual({ width: 1024, height: 1024 });
  });

  it("maps image corners to the resized image's corners, per axis", () => {
    const image = { width: 451, height: 300 };
    expect(imageToModel({ x: 451, y: 300 }, image)).toEqual({ x: 1024, y: 681 });
    expect(imageToModel({ x: 0, y: 0 }, image)).toEqual({ x: 0, y: 0 });
    // y uses the rounded height ratio 681/300, not 1024/451.
    expect(imageToModel({ x: 0, y: 150 }, image).y).toBeCloseTo(340.5, 10);
  });

  it("round-trips image -> model -> image", () => {
    const image = { width: 640, height: 427 };
    for (const p of [{ x: 0.5, y: 0.5 }, { x: 320, y: 213.5 }, { x: 639.5, y: 426.5 }]) {
      const back = modelToImage(imageToModel(p, image), image);
      expect(back.x).toBeCloseTo(p.x, 9);
      expect(back.y).toBeCloseTo(p.y, 9);
    }
  });

  it("rejects empty images", () => {
    expect(() => modelInputScale({ width: 0, height: 10 })).toThrow(RangeError);
  });
});

describe("screen space", () => {
  it("identity view changes nothing", () => {
    expect(imageToScreen({ x: 3, y: 4 }, IDENTITY_VIEW)).toEqual({ x: 3, y: 4 });
  });

  it("round-trips image -> screen -> image under zoom and pan", () => {
    const view = { zoom: 2.5, panX: -40, panY: 17 };
    const p = { x: 123.25, y: 9.75 };
    const back = screenToImage(imageToScreen(p, view), view);
    expect(back.x).toBeCloseTo(p.x, 10);
    expect(back.y).toBeCloseTo(p.y, 10);
  });

  it("fits a wide image into a tall viewport, centred vertically", () => {
    const view = fitView({ width: 1000, height: 500 }, { width: 500, height: 500 });
    expect(view).toEqual({ zoom: 0.5, panX: 0, panY: 125 });
    expect(imageToScreen({ x: 1000, y: 500 }, view)).toEqual({ x: 500, y: 375 });
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
    expect(zoomAt(IDENTITY_VIEW, { x: 0, y: 0 }, 1000).zoom).toBe(64);
    expect(() => zoomAt(IDENTITY_VIEW, { x: 0, y: 0 }, 0)).toThrow(RangeError);
    expect(() => zoomAt(IDENTITY_VIEW, { x: 0, y: 0 }, Number.NaN)).toThrow(RangeError);
  });

  it("pans by screen pixels", () => {
    expect(panBy({ zoom: 2, panX: 1, panY: 2 }, 5, -3)).toEqual({ zoom: 2, panX: 6, panY: -1 });
  });
});

describe("EXIF-rotated and extreme images", () => {
  // The server stores the size as displayed (EXIF orientation applied) and encodes that rendition,
  // so a 4000×3000 sensor image with orientation 6 is a 3000×4000 image everywhere in the browser.
  const rotated = { width: 3000, height: 4000 };

  it("uses the already-rotated display size for model input space", () => {
    expect(modelInputSize(rotated)).toEqual({ width: 768, height: 1024 });
    const p = imageToModel({ x: 3000, y: 4000 }, rotated);
    expect(p.x).toBeCloseTo(768, 9);
    expect(p.y).toBeCloseTo(1024, 9);
    const back = modelToImage(imageToModel({ x: 1234.5, y: 3210.25 }, rotated), rotated);
    expect(back.x).toBeCloseTo(1234.5, 9);
    expect(back.y).toBeCloseTo(3210.25, 9);
  });

  it("keeps a 1000:1 strip at least one model pixel thick and round-trips it", () => {
    const strip = { width: 20000, height: 20 };
    expect(modelInputSize(strip)).toEqual({ width: 1024, height: 1 });
    const back = modelToImage(imageToModel({ x: 19999, y: 19 }, strip), strip);
    expect(back.x).toBeCloseTo(19999, 6);
    expect(back.y).toBeCloseTo(19, 6);
    const tall = { width: 3, height: 9000 };
    expect(modelInputSize(tall)).toEqual({ width: 0 + Math.floor(3 * (1024 / 9000) + 0.5), height: 1024 });
  });

  it("fits extreme aspect ratios inside the viewport and maps screen back to image", () => {
    const strip = { width: 20000, height: 20 };
    const view = fitView(strip, { width: 800, height: 600 });
    expect(view.zoom).toBeCloseTo(0.04, 12);
    const corner = imageToScreen({ x: 20000, y: 20 }, view);
    expect(corner.x).toBeCloseTo(800, 9);
    expect(corner.y).toBeLessThanOrEqual(600);
    const p = screenToImage(imageToScreen({ x: 12345, y: 7 }, view), view);
    expect(p.x).toBeCloseTo(12345, 6);
    expect(p.y).toBeCloseTo(7, 6);
  });
});
