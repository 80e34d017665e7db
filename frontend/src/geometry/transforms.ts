/**
 * Pure coordinate transforms between the three spaces the annotator works in:
 *
 * - image space: pixels of the displayed image, origin top-left, x right, y down;
 * - model input space: the image resized so its longest side is SAM's `targetLength` (1024),
 *   the space SAM's prompt encoder expects point and box coordinates in;
 * - screen space: CSS pixels of the canvas, after the user's zoom and pan.
 *
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

/** SAM's image encoder input side length (ResizeLongestSide target). */
export const SAM_TARGET_LENGTH = 1024;

/** Scale that maps image pixels to model input pixels: targetLength / max(h, w). */
export function modelInputScale(image: Size, targetLength: number = SAM_TARGET_LENGTH): number {
  assertPositiveSize(image);
  return targetLength / Math.max(image.width, image.height);
}

/**
 * Size of the resized image before padding, rounded as SAM's ResizeLongestSide does
 * (`int(x * scale + 0.5)`), so browser-side coordinates match the server's embedding exactly.
 */
export function modelInputSize(image: Size, targetLength: number = SAM_TARGET_LENGTH): Size {
  const scale = modelInputScale(image, targetLength);
  return {
    width: Math.floor(image.width * scale + 0.5),
    height: Math.floor(image.height * scale + 0.5),
  };
}

/**
 * Image pixels → model input space. Like SAM's `apply_coords`, each axis uses the ratio of the
 * rounded resized size to the original size (they differ from `scale` by the rounding).
 */
export function imageToModel(point: Point, image: Size, targetLength: number = SAM_TARGET_LENGTH): Point {
  const resized = modelInputSize(image, targetLength);
  return {
    x: point.x * (resized.width / image.width),
    y: point.y * (resized.height / image.height),
  };
}

/** Model input space → image pixels (inverse of imageToModel). */
export function modelToImage(point: Point, image: Size, targetLength: number = SAM_TARGET_LENGTH): Point {
  const resized = modelInputSize(image, targetLength);
  return {
    x: point.x * (image.width / resized.width),
    y: point.y * (image.height / resized.height),
  };
}

/** How the image sits on screen: screen = image * zoom + pan. */
export interface View {
  readonly zoom: number;
  readonly panX: number;
  readonly panY: number;
}

export const IDENTITY_VIEW: View = { zoom: 1, panX: 0, panY: 0 };

export function imageToScreen(point: Point, view: View): Point {
  return { x: point.x * view.zoom + view.panX, y: point.y * view.zoom + view.panY };
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
