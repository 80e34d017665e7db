/**
 * Binary mask → polygons with holes and separate parts, in the Annotation format:
 * `[[outer, hole, ...], ...]`, each ring a flat `[x0, y0, x1, y1, ...]` list in image pixels.
 *
 * Boundaries are traced along pixel edges (pixel (x, y) covers [x, x+1] × [y, y+1]), so a ring
 * rasterises back to exactly the mask before simplification. Edges go clockwise on screen around
 * foreground, so outer rings have positive and holes negative shoelace area (y down). Where two
 * foreground pixels touch only at a corner, the trace turns right, keeping them separate parts
 * (4-connectivity, as pycocotools' RLE area counts them). Then Douglas–Peucker per ring with the
 * adjustable tolerance (the "detail" slider).
 */
import type { Size } from "./transforms";

export type Ring = number[];
export type Polygons = Ring[][];

// Directions: 0 right, 1 down, 2 left, 3 up (screen, y down).
const DX = [1, 0, -1, 0] as const;
const DY = [0, 1, 0, -1] as const;

export function maskToPolygons(mask: Uint8Array, size: Size, tolerance = 1, minArea = 4): Polygons {
  return ringsToPolygons(traceRings(mask, size), tolerance, minArea);
}

/** Traced rings → polygons: small rings dropped, Douglas–Peucker, holes given to their outer ring. */
export function ringsToPolygons(rings: readonly Ring[], tolerance = 1, minArea = 4): Polygons {
  const outers: { ring: Ring; area: number; holes: Ring[] }[] = [];
  const holes: { ring: Ring; area: number }[] = [];
  for (const ring of rings) {
    const area = ringArea(ring);
    if (Math.abs(area) < minArea) {
      continue;
    }
    const simplified = simplifyRing(ring, tolerance);
    if (simplified.length < 6) {
      continue;
    }
    if (area > 0) {
      outers.push({ ring: simplified, area, holes: [] });
    } else {
      holes.push({ ring: simplified, area: -area });
    }
  }
  outers.sort((a, b) => a.area - b.area); // smallest first: a hole belongs to the tightest outer ring
  for (const hole of holes) {
    const probe = ringInteriorProbe(hole.ring);
    const owner = outers.find((outer) => outer.area > hole.area && pointInRing(probe[0], probe[1], outer.ring));
    owner?.holes.push(hole.ring);
  }
  outers.sort((a, b) => b.area - a.area);
  return outers.map((outer) => [outer.ring, ...outer.holes]);
}

/** Closed boundary rings along pixel edges, corners only (collinear points dropped). */
export function traceRings(mask: Uint8Array, size: Size): Ring[] {
  const { width, height } = size;
  if (mask.length !== width * height) {
    throw new RangeError(`mask has ${mask.length} pixels, expected ${width}x${height}`);
  }
  const inside = (x: number, y: number): boolean =>
    x >= 0 && y >= 0 && x < width && y < height && mask[y * width + x] !== 0;
  // Outgoing edge directions per grid vertex, as a 4-bit set; vertex index = y * (width + 1) + x.
  const stride = width + 1;
  const outgoing = new Uint8Array(stride * (height + 1));
  let edgeCount = 0;
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      if (!inside(x, y)) {
        continue;
      }
      if (!inside(x, y - 1)) { outgoing[y * stride + x]! |= 1 << 0; edgeCount += 1; } // top: right
      if (!inside(x + 1, y)) { outgoing[y * stride + x + 1]! |= 1 << 1; edgeCount += 1; } // right side: down
      if (!inside(x, y + 1)) { outgoing[(y + 1) * stride + x + 1]! |= 1 << 2; edgeCount += 1; } // bottom: left
      if (!inside(x - 1, y)) { outgoing[(y + 1) * stride + x]! |= 1 << 3; edgeCount += 1; } // left side: up
    }
  }
  const rings: Ring[] = [];
  for (let start = 0; start < outgoing.length && edgeCount > 0; start += 1) {
    while (outgoing[start] !== 0) {
      const ring: Ring = [];
      let vertex = start;
      let direction = lowestBit(outgoing[start]!);
      const startDirection = direction;
      do {
        outgoing[vertex]! &= ~(1 << direction);
        edgeCount -= 1;
        const x = (vertex % stride) + DX[direction]!;
        const y = Math.floor(vertex / stride) + DY[direction]!;
        vertex = y * stride + x;
        const next = chooseNext(outgoing[vertex]!, direction);
        if (next !== direction) {
          ring.push(x, y); // a corner
        }
        if (next < 0) {
          break;
        }
        direction = next;
      } while (!(vertex === start && direction === startDirection && (outgoing[vertex]! & (1 << direction)) === 0));
      if (ring.length >= 6) {
        rings.push(ring);
      }
    }
  }
  return rings;
}

function lowestBit(bits: number): number {
  for (let d = 0; d < 4; d += 1) {
    if (bits & (1 << d)) {
      return d;
    }
  }
  return -1;
}

/** Prefer a right turn, then straight, then left (keeps corner-touching pixels apart). */
function chooseNext(bits: number, incoming: number): number {
  for (const turn of [1, 0, 3]) {
    const d = (incoming + turn) % 4;
    if (bits & (1 << d)) {
      return d;
    }
  }
  return -1;
}

/** Shoelace area of a flat ring (positive = clockwise on screen with y down). */
export function ringArea(ring: Ring): number {
  let sum = 0;
  const n = ring.length / 2;
  for (let i = 0; i < n; i += 1) {
    const j = (i + 1) % n;
    sum += ring[2 * i]! * ring[2 * j + 1]! - ring[2 * j]! * ring[2 * i + 1]!;
  }
  return sum / 2;
}

export function pointInRing(x: number, y: number, ring: Ring): boolean {
  let inside = false;
  const n = ring.length / 2;
  for (let i = 0, j = n - 1; i < n; j = i, i += 1) {
    const xi = ring[2 * i]!, yi = ring[2 * i + 1]!, xj = ring[2 * j]!, yj = ring[2 * j + 1]!;
    if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) {
      inside = !inside;
    }
  }
  return inside;
}

/** A point just inside a hole ring's first edge (not on the boundary), to find its outer ring. */
function ringInteriorProbe(ring: Ring): [number, number] {
  const x0 = ring[0]!, y0 = ring[1]!, x1 = ring[2]!, y1 = ring[3]!;
  return [(x0 + x1) / 2 + Math.sign(y1 - y0) * 0.01, (y0 + y1) / 2 + Math.sign(x1 - x0) * 0.01];
}

/** Douglas–Peucker on a closed ring; tolerance 0 keeps every corner. */
export function simplifyRing(ring: Ring, tolerance: number): Ring {
  const n = ring.length / 2;
  if (tolerance <= 0 || n <= 4) {
    return ring.slice();
  }
  // Split at the vertex farthest from vertex 0, so each half is an open polyline.
  let far = 0;
  let farDistance = -1;
  for (let i = 1; i < n; i += 1) {
    const d = (ring[2 * i]! - ring[0]!) ** 2 + (ring[2 * i + 1]! - ring[1]!) ** 2;
    if (d > farDistance) {
      farDistance = d;
      far = i;
    }
  }
  const keep = new Uint8Array(n + 1);
  keep[0] = keep[far] = keep[n] = 1;
  const at = (i: number): [number, number] => [ring[2 * (i % n)]!, ring[2 * (i % n) + 1]!];
  const stack: [number, number][] = [[0, far], [far, n]];
  while (stack.length > 0) {
    const [first, last] = stack.pop()!;
    const [ax, ay] = at(first);
    const [bx, by] = at(last);
    let index = -1;
    let max = tolerance;
    for (let i = first + 1; i < last; i += 1) {
      const [px, py] = at(i);
      const d = segmentDistance(px, py, ax, ay, bx, by);
      if (d > max) {
        max = d;
        index = i;
      }
    }
    if (index >= 0) {
      keep[index] = 1;
      stack.push([first, index], [index, last]);
    }
  }
  const out: Ring = [];
  for (let i = 0; i < n; i += 1) {
    if (keep[i]) {
      out.push(ring[2 * i]!, ring[2 * i + 1]!);
    }
  }
  return out;
}

export function segmentDistance(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const dx = bx - ax;
  const dy = by - ay;
  const length = dx * dx + dy * dy;
  const t = length === 0 ? 0 : Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / length));
  return Math.hypot(px - (ax + t * dx), py - (ay + t * dy));
}
