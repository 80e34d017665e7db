/**
 * Polygons (the Annotation format, `[[outer, hole, ...], ...]`) → row-major mask, by pixel centre:
 * pixel (x, y) is inside when (x + 0.5, y + 0.5) is inside an odd number of rings (even–odd over all
 * rings: holes lie inside their outer ring, parts do not overlap). A ring traced along pixel edges
 * (`maskToPolygons` at tolerance 0) rasterises back to exactly its mask.
 *
 * Scanline fill restricted to a window (default: the whole image), so checks on one object cost
 * its bounding box, not the image.
 */
import type { Polygons } from "./maskToPolygons";
import type { Size } from "./transforms";

export interface Window {
  x0: number;
  y0: number;
  x1: number; // exclusive
  y1: number; // exclusive
}

export function polygonsToMask(polygons: Polygons, size: Size, window?: Window): Uint8Array {
  const { width, height } = size;
  const box = window ?? { x0: 0, y0: 0, x1: width, y1: height };
  const mask = new Uint8Array(width * height);
  const edges: number[] = []; // flat [xa, ya, xb, yb] per non-horizontal edge
  for (const part of polygons) {
    for (const ring of part) {
      const n = ring.length / 2;
      for (let i = 0; i < n; i += 1) {
        const j = (i + 1) % n;
        const ya = ring[2 * i + 1]!, yb = ring[2 * j + 1]!;
        if (ya !== yb) {
          edges.push(ring[2 * i]!, ya, ring[2 * j]!, yb);
        }
      }
    }
  }
  const crossings: number[] = [];
  for (let y = Math.max(0, box.y0); y < Math.min(height, box.y1); y += 1) {
    const cy = y + 0.5;
    crossings.length = 0;
    for (let e = 0; e < edges.length; e += 4) {
      const xa = edges[e]!, ya = edges[e + 1]!, xb = edges[e + 2]!, yb = edges[e + 3]!;
      if (ya > cy !== yb > cy) {
        crossings.push(xa + ((cy - ya) * (xb - xa)) / (yb - ya));
      }
    }
    crossings.sort((a, b) => a - b);
    for (let k = 0; k + 1 < crossings.length; k += 2) {
      // Pixels whose centre x + 0.5 lies in [left, right).
      const from = Math.max(box.x0, Math.ceil(crossings[k]! - 0.5));
      const to = Math.min(box.x1, Math.ceil(crossings[k + 1]! - 0.5));
      for (let x = from; x < to; x += 1) {
        mask[y * width + x] = 1;
      }
    }
  }
  return mask;
}

/** Bounding window of a mask's non-zero pixels (null when empty). */
export function maskWindow(mask: Uint8Array, size: Size): Window | null {
  let x0 = size.width, y0 = size.height, x1 = -1, y1 = -1;
  for (let y = 0; y < size.height; y += 1) {
    const row = y * size.width;
    for (let x = 0; x < size.width; x += 1) {
      if (mask[row + x] !== 0) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        y1 = y;
      }
    }
  }
  return x1 < 0 ? null : { x0, y0, x1: x1 + 1, y1: y1 + 1 };
}

/** IoU of two masks of one size, counted inside `window` (both masks must be empty outside it). */
export function maskIoU(a: Uint8Array, b: Uint8Array, size: Size, window?: Window): number {
  const box = window ?? { x0: 0, y0: 0, x1: size.width, y1: size.height };
  let both = 0;
  let either = 0;
  for (let y = box.y0; y < box.y1; y += 1) {
    const row = y * size.width;
    for (let x = box.x0; x < box.x1; x += 1) {
      const p = a[row + x] !== 0, q = b[row + x] !== 0;
      if (p && q) both += 1;
      if (p || q) either += 1;
    }
  }
  return either === 0 ? 1 : both / either;
}
