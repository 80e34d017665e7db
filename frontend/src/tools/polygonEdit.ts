/** Hit tests for polygon editing, in image pixels with a tolerance (screen pixels / zoom). Pure. */
import type { Polygons } from "../geometry/maskToPolygons";
import { pointInRing, segmentDistance } from "../geometry/maskToPolygons";
import type { Point } from "../geometry/transforms";

export interface VertexHit {
  readonly part: number;
  readonly ring: number;
  readonly vertex: number;
}

export function hitVertex(polygons: Polygons, p: Point, tolerance: number): VertexHit | null {
  let best: VertexHit | null = null;
  let bestDistance = tolerance;
  polygons.forEach((rings, part) =>
    rings.forEach((ring, r) => {
      for (let v = 0; v < ring.length / 2; v += 1) {
        const d = Math.hypot(ring[2 * v]! - p.x, ring[2 * v + 1]! - p.y);
        if (d <= bestDistance) {
          bestDistance = d;
          best = { part, ring: r, vertex: v };
        }
      }
    }),
  );
  return best;
}

/** The edge (from `vertex` to the next one) within tolerance of p. */
export function hitEdge(polygons: Polygons, p: Point, tolerance: number): VertexHit | null {
  let best: VertexHit | null = null;
  let bestDistance = tolerance;
  polygons.forEach((rings, part) =>
    rings.forEach((ring, r) => {
      const n = ring.length / 2;
      for (let v = 0; v < n; v += 1) {
        const w = (v + 1) % n;
        const d = segmentDistance(p.x, p.y, ring[2 * v]!, ring[2 * v + 1]!, ring[2 * w]!, ring[2 * w + 1]!);
        if (d <= bestDistance) {
          bestDistance = d;
          best = { part, ring: r, vertex: v };
        }
      }
    }),
  );
  return best;
}

/** Inside some part (inside its outer ring and outside its holes). */
export function insidePolygons(polygons: Polygons, p: Point): boolean {
  return polygons.some(
    ([outer, ...holes]) => outer !== undefined && pointInRing(p.x, p.y, outer) && !holes.some((h) => pointInRing(p.x, p.y, h)),
  );
}
