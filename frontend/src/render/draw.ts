/** Draws one frame of the annotator onto a 2D canvas. Only draws: no state changes, no events. */
import type { Polygons } from "../geometry/maskToPolygons";
import type { Point, View } from "../geometry/transforms";
import type { Box, PromptPoint } from "../sam/feeds";

export interface DrawnAnnotation {
  readonly polygons: Polygons;
  readonly color: string;
  readonly selected: boolean;
  /** Draw the vertex handles of the selected annotation (the select tool); default true. */
  readonly handles?: boolean;
}

export interface Frame {
  readonly view: View;
  readonly image: CanvasImageSource | null;
  /** The image's full size: a display rendition of a very large image is smaller and is stretched to it. */
  readonly imageSize: { readonly width: number; readonly height: number };
  readonly annotations: readonly DrawnAnnotation[];
  readonly showAnnotations: boolean;
  readonly opacity: number;
  /** The candidate mask (already painted into an image-sized canvas) and its colour. */
  readonly mask: CanvasImageSource | null;
  readonly hover: CanvasImageSource | null;
  readonly points: readonly PromptPoint[];
  readonly box: Box | null;
  readonly draft: readonly Point[];
  readonly cursor: Point | null;
  /** The brush / eraser outline at the cursor (tools/brushTool.ts), radius in image pixels. */
  readonly brush?: { readonly at: Point; readonly radius: number } | null;
}

export function drawFrame(ctx: CanvasRenderingContext2D, frame: Frame): void {
  const { canvas } = ctx;
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  const { zoom, panX, panY } = frame.view;
  ctx.setTransform(zoom, 0, 0, zoom, panX, panY);
  ctx.imageSmoothingEnabled = zoom < 2;
  if (frame.image !== null) {
    ctx.drawImage(frame.image, 0, 0, frame.imageSize.width, frame.imageSize.height);
  }
  const line = 1.5 / zoom;
  if (frame.showAnnotations) {
    for (const annotation of frame.annotations) {
      drawPolygons(ctx, annotation.polygons, annotation.color, frame.opacity, annotation.selected ? line * 2 : line);
      if (annotation.selected && annotation.handles !== false) {
        drawVertices(ctx, annotation.polygons, 3.5 / zoom);
      }
    }
  }
  ctx.imageSmoothingEnabled = false;
  if (frame.hover !== null) {
    ctx.globalAlpha = frame.opacity * 0.6;
    ctx.drawImage(frame.hover, 0, 0);
  }
  if (frame.mask !== null) {
    ctx.globalAlpha = Math.max(0.25, frame.opacity);
    ctx.drawImage(frame.mask, 0, 0);
  }
  ctx.globalAlpha = 1;
  for (const point of frame.points) {
    ctx.beginPath();
    ctx.arc(point.x, point.y, 5 / zoom, 0, Math.PI * 2);
    ctx.fillStyle = point.positive ? "#2ecc40" : "#ff4136";
    ctx.fill();
    ctx.lineWidth = line;
    ctx.strokeStyle = "#fff";
    ctx.stroke();
  }
  if (frame.box !== null) {
    ctx.lineWidth = line;
    ctx.strokeStyle = "#ffdc00";
    ctx.strokeRect(frame.box.x0, frame.box.y0, frame.box.x1 - frame.box.x0, frame.box.y1 - frame.box.y0);
  }
  if (frame.draft.length > 0) {
    ctx.beginPath();
    frame.draft.forEach((p, i) => (i === 0 ? ctx.moveTo(p.x, p.y) : ctx.lineTo(p.x, p.y)));
    if (frame.cursor !== null) {
      ctx.lineTo(frame.cursor.x, frame.cursor.y);
    }
    ctx.lineWidth = line;
    ctx.strokeStyle = "#ffdc00";
    ctx.stroke();
    for (const p of frame.draft) {
      ctx.fillStyle = "#ffdc00";
      ctx.fillRect(p.x - 3 / zoom, p.y - 3 / zoom, 6 / zoom, 6 / zoom);
    }
  }
  if (frame.brush) {
    ctx.beginPath();
    ctx.arc(frame.brush.at.x, frame.brush.at.y, frame.brush.radius, 0, Math.PI * 2);
    ctx.lineWidth = line;
    ctx.strokeStyle = "#fff";
    ctx.stroke();
  }
}

function drawPolygons(ctx: CanvasRenderingContext2D, polygons: Polygons, color: string, opacity: number, width: number): void {
  ctx.beginPath();
  for (const rings of polygons) {
    for (const ring of rings) {
      for (let i = 0; i < ring.length; i += 2) {
        if (i === 0) {
          ctx.moveTo(ring[0]!, ring[1]!);
        } else {
          ctx.lineTo(ring[i]!, ring[i + 1]!);
        }
      }
      ctx.closePath();
    }
  }
  ctx.globalAlpha = opacity;
  ctx.fillStyle = color;
  ctx.fill("evenodd"); // holes stay open
  ctx.globalAlpha = 1;
  ctx.lineWidth = width;
  ctx.strokeStyle = color;
  ctx.stroke();
}

function drawVertices(ctx: CanvasRenderingContext2D, polygons: Polygons, radius: number): void {
  ctx.fillStyle = "#fff";
  for (const rings of polygons) {
    for (const ring of rings) {
      for (let i = 0; i < ring.length; i += 2) {
        ctx.fillRect(ring[i]! - radius, ring[i + 1]! - radius, radius * 2, radius * 2);
      }
    }
  }
}

/** Paint a 0/1 mask (width × height, row-major) into a canvas of the same size in one colour. */
export function maskCanvas(mask: Uint8Array, width: number, height: number, color: string): HTMLCanvasElement {
  const canvas = document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext("2d")!;
  // ImageData is (width, height): the mask is row-major with `width` pixels per row.
  const pixels = new ImageData(width, height);
  const [r, g, b] = hexToRgb(color);
  for (let i = 0; i < mask.length; i += 1) {
    if (mask[i]) {
      pixels.data[4 * i] = r;
      pixels.data[4 * i + 1] = g;
      pixels.data[4 * i + 2] = b;
      pixels.data[4 * i + 3] = 255;
    }
  }
  ctx.putImageData(pixels, 0, 0);
  return canvas;
}

export function hexToRgb(color: string): [number, number, number] {
  const value = Number.parseInt(color.replace("#", ""), 16);
  return Number.isNaN(value) ? [230, 25, 75] : [(value >> 16) & 255, (value >> 8) & 255, value & 255];
}
