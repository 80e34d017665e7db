/**
 * Mask → the polygons with the fewest vertices that still cover the mask with IoU ≥ `minIoU`
 * (default 0.99): the pixel-edge rings are traced once, then Douglas–Peucker's tolerance is searched
 * (bisection; IoU falls and the vertex count drops as the tolerance grows), each candidate
 * rasterised by pixel centre inside the mask's bounding box and compared with the mask. The best
 * candidate seen (fewest vertices among those that pass) is returned; tolerance 0 (the exact trace)
 * always passes, so the result never falls below `minIoU` unless tiny parts under `minArea` pixels
 * had to be dropped.
 *
 * Cost: one trace of the image, then per step one simplification and one scanline fill of the box
 * (≈ 14 steps).
 */
import { ringsToPolygons, traceRings, type Polygons } from "./maskToPolygons";
import { maskIoU, maskWindow, polygonsToMask } from "./rasterize";
import type { Size } from "./transforms";

export interface Simplified {
  polygons: Polygons;
  tolerance: number;
  iou: number;
  vertices: number;
}

export const DEFAULT_MIN_IOU = 0.99;
/** The Detail slider's leftmost step: "auto" = simplifyMask with DEFAULT_MIN_IOU (the default). */
export const AUTO_DETAIL = -0.25;

export function vertexCount(polygons: Polygons): number {
  let count = 0;
  for (const part of polygons) {
    for (const ring of part) {
      count += ring.length / 2;
    }
  }
  return count;
}

export function simplifyMask(
  mask: Uint8Array,
  size: Size,
  options: { minIoU?: number; minArea?: number; steps?: number } = {},
): Simplified {
  const minIoU = options.minIoU ?? DEFAULT_MIN_IOU;
  const minArea = options.minArea ?? 4;
  const steps = options.steps ?? 14;
  const window = maskWindow(mask, size);
  if (window === null) {
    return { polygons: [], tolerance: 0, iou: 1, vertices: 0 };
  }
  const rings = traceRings(mask, size);
  const evaluate = (tolerance: number): Simplified => {
    const polygons = ringsToPolygons(rings, tolerance, minArea);
    const iou = maskIoU(polygonsToMask(polygons, size, window), mask, size, window);
    return { polygons, tolerance, iou, vertices: vertexCount(polygons) };
  };
  let best = evaluate(0);
  const better = (candidate: Simplified): void => {
    if (candidate.iou >= minIoU && (candidate.vertices < best.vertices || best.iou < minIoU)) {
      best = candidate;
    }
  };
  // Bisection on the tolerance between 0 (exact) and a quarter of the box's longer side.
  let low = 0;
  let high = Math.max(window.x1 - window.x0, window.y1 - window.y0) / 4;
  for (let step = 0; step < steps; step += 1) {
    const middle = (low + high) / 2;
    const candidate = evaluate(middle);
    better(candidate);
    if (candidate.iou >= minIoU) {
      low = middle;
    } else {
      high = middle;
    }
  }
  return best;
}
