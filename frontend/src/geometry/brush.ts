/**
 * Brush and eraser on a raster mask (row-major `Uint8Array`, the decoded RLE of the object): a
 * stroke of radius r paints (or clears) every pixel whose centre lies within r of the stroke's
 * polyline — discs at the points joined by capsules, so fast strokes leave no gaps. Pure raster
 * work: the result is encoded with `rle.ts` and saved as the mask of record, pixel for pixel.
 */
import type { Point, Size } from "./transforms";

export type BrushMode = "add" | "erase";

export const MIN_BRUSH_RADIUS = 1;
export const MAX_BRUSH_RADIUS = 256;

/** The next brush radius for [ (smaller) and ] (larger): steps of about 20%, at least 1 pixel. */
export function stepRadius(radius: number, direction: -1 | 1): number {
  const step = Math.max(1, Math.round(radius * 0.2));
  return Math.min(MAX_BRUSH_RADIUS, Math.max(MIN_BRUSH_RADIUS, radius + direction * step));
}

/** Paint or erase one stroke into `mask` in place; returns how many pixels changed. */
export function applyStroke(
  mask: Uint8Array,
  size: Size,
  points: readonly Point[],
  radius: number,
  mode: BrushMode,
): number {
  if (points.length === 0 || !(radius > 0)) {
    return 0;
  }
  const value = mode === "add" ? 1 : 0;
  const r2 = radius * radius;
  let changed = 0;
  const segments = points.length === 1 ? [[points[0]!, points[0]!]] : points.slice(1).map((p, i) => [points[i]!, p]);
  for (const [a, b] of segments) {
    const x0 = Math.max(0, Math.floor(Math.min(a!.x, b!.x) - radius));
    const x1 = Math.min(size.width - 1, Math.ceil(Math.max(a!.x, b!.x) + radius));
    const y0 = Math.max(0, Math.floor(Math.min(a!.y, b!.y) - radius));
    const y1 = Math.min(size.height - 1, Math.ceil(Math.max(a!.y, b!.y) + radius));
    const dx = b!.x - a!.x;
    const dy = b!.y - a!.y;
    const length2 = dx * dx + dy * dy;
    for (let y = y0; y <= y1; y += 1) {
      const cy = y + 0.5;
      for (let x = x0; x <= x1; x += 1) {
        const cx = x + 0.5;
        const t = length2 === 0 ? 0 : Math.max(0, Math.min(1, ((cx - a!.x) * dx + (cy - a!.y) * dy) / length2));
        const ex = cx - (a!.x + t * dx);
        const ey = cy - (a!.y + t * dy);
        if (ex * ex + ey * ey <= r2) {
          const index = y * size.width + x;
          if (mask[index] !== value) {
            mask[index] = value;
            changed += 1;
          }
        }
      }
    }
  }
  return changed;
}
