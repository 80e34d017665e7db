/**
 * Pure coordinate transforms between the two spaces the canvas works in:
 *
 * - image space: pixels of the displayed image, origin top-left, x right, y down;
 * - screen space: CSS pixels of the canvas, after the user's zoom and pan.
 *
 * Model input space (the image scaled so its longest side is the encoder's input size) is
 * handled where the prompt becomes decoder inputs, in sam/feeds.ts.
 * No DOM and no state here, so every function is unit-tested on its own.
 */

export interface Point {
  readonly x: number;
  readonly y: number;
}

export interface Size {
  readonly width: number;
  readonly height: number;
}

/** SAM's image encoder input side length (ResizeLongestSide target) when a manifest names none. */
export const SAM_TARGET_LENGTH = 1024;

/** How the image sits on screen: screen = image * zoom + pan. */
export interface View {
  readonly zoom: number;
  readonly panX: number;
  readonly panY: number;
}

export function screenToImage(point: Point, view: View): Point {
  return { x: (point.x - view.panX) / view.zoom, y: (point.y - view.panY) / view.zoom };
}

/** Largest zoom that shows the whole image inside the viewport, centred. */
export function fitView(image: Size, viewport: Size): View {
  assertPositiveSize(image);
  assertPositiveSize(viewport);
  const zoom = Math.min(viewport.width / image.width, viewport.height / image.height);
  return {
    zoom,
    panX: (viewport.width - image.width * zoom) / 2,
    panY: (viewport.height - image.height * zoom) / 2,
  };
}

/**
 * Multiply the zoom by `factor`, keeping the image point under `anchor` (a screen point, usually
 * the cursor) where it is, so zooming with the wheel feels anchored to the pointer.
 */
export function zoomAt(view: View, anchor: Point, factor: number, minZoom = 0.01, maxZoom = 64): View {
  if (!(factor > 0) || !Number.isFinite(factor)) {
    throw new RangeError(`zoom factor must be a positive finite number, got ${factor}`);
  }
  const zoom = Math.min(maxZoom, Math.max(minZoom, view.zoom * factor));
  const fixed = screenToImage(anchor, view);
  return { zoom, panX: anchor.x - fixed.x * zoom, panY: anchor.y - fixed.y * zoom };
}

export function panBy(view: View, dx: number, dy: number): View {
  return { zoom: view.zoom, panX: view.panX + dx, panY: view.panY + dy };
}

function assertPositiveSize(size: Size): void {
  if (!(size.width > 0 && size.height > 0)) {
    throw new RangeError(`size must be positive, got ${size.width}x${size.height}`);
  }
}
