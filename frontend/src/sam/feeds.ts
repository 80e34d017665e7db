/**
 * Pure prompt → ONNX feeds for the exported decoder (see docs/models.md and
 * segmentation/sam/onnx_decoder.py, which the browser mirrors exactly):
 * - coordinates: image pixels × encoderInputSize / max(height, width), x then y;
 * - labels: 1 positive, 0 negative, box corners 2 (top-left) and 3 (bottom-right);
 * - without a box a padding point (0, 0) with label -1 is appended;
 * - mask_input (1, 1, 4h, 4w) = the previous low-res logits, has_mask_input 1, else zeros and 0;
 * - orig_im_size = [height, width].
 * No onnxruntime import here: plain typed arrays + dims, so this is unit-tested in Node.
 */
import type { Point, Size } from "../geometry/transforms";

export interface PromptPoint extends Point {
  /** true = foreground (label 1), false = background (label 0). */
  readonly positive: boolean;
}

export interface Box {
  readonly x0: number;
  readonly y0: number;
  readonly x1: number;
  readonly y1: number;
}

export interface Prompt {
  readonly points: readonly PromptPoint[];
  readonly box: Box | null;
}

export interface FeedTensor {
  readonly data: Float32Array;
  readonly dims: readonly number[];
}

export type DecoderFeeds = Record<
  "image_embeddings" | "point_coords" | "point_labels" | "mask_input" | "has_mask_input" | "orig_im_size",
  FeedTensor
>;

export interface EmbeddingTensor {
  readonly data: Float32Array;
  /** [C, h, w] */
  readonly shape: readonly [number, number, number];
}

export const EMPTY_PROMPT: Prompt = { points: [], box: null };

export function isEmptyPrompt(prompt: Prompt): boolean {
  return prompt.points.length === 0 && prompt.box === null;
}

/** Number of points the graph sees (clicks + padding point, or clicks + 2 box corners). */
export function promptPointCount(prompt: Prompt): number {
  return prompt.points.length + (prompt.box === null ? 1 : 2);
}

/** Box with x0 <= x1, y0 <= y1, whatever direction it was dragged in. */
export function normalizeBox(box: Box): Box {
  return {
    x0: Math.min(box.x0, box.x1),
    y0: Math.min(box.y0, box.y1),
    x1: Math.max(box.x0, box.x1),
    y1: Math.max(box.y0, box.y1),
  };
}

export function promptToFeeds(
  prompt: Prompt,
  embedding: EmbeddingTensor,
  image: Size,
  encoderInputSize: number,
  previousLowRes: Float32Array | null,
): DecoderFeeds {
  if (isEmptyPrompt(prompt)) {
    throw new RangeError("a prompt needs at least one point or a box");
  }
  const scale = encoderInputSize / Math.max(image.width, image.height);
  const count = promptPointCount(prompt);
  const coords = new Float32Array(count * 2);
  const labels = new Float32Array(count);
  prompt.points.forEach((point, index) => {
    coords[index * 2] = point.x * scale;
    coords[index * 2 + 1] = point.y * scale;
    labels[index] = point.positive ? 1 : 0;
  });
  const tail = prompt.points.length;
  if (prompt.box !== null) {
    const box = normalizeBox(prompt.box);
    coords.set([box.x0 * scale, box.y0 * scale, box.x1 * scale, box.y1 * scale], tail * 2);
    labels.set([2, 3], tail);
  } else {
    labels[tail] = -1; // padding point (0, 0): coords are already zero
  }
  const [channels, height, width] = embedding.shape;
  const maskSize = [4 * height, 4 * width] as const;
  const maskLength = maskSize[0] * maskSize[1];
  if (previousLowRes !== null && previousLowRes.length !== maskLength) {
    throw new RangeError(`previous low-res mask has ${previousLowRes.length} values, expected ${maskLength}`);
  }
  return {
    image_embeddings: { data: embedding.data, dims: [1, channels, height, width] },
    point_coords: { data: coords, dims: [1, count, 2] },
    point_labels: { data: labels, dims: [1, count] },
    mask_input: { data: previousLowRes ?? new Float32Array(maskLength), dims: [1, 1, maskSize[0], maskSize[1]] },
    has_mask_input: { data: new Float32Array([previousLowRes === null ? 0 : 1]), dims: [1] },
    orig_im_size: { data: new Float32Array([image.height, image.width]), dims: [2] },
  };
}

/**
 * Which of the K outputs of the multimask export to show first (SAM's own rule): with one click or a
 * box alone (≤ 2 graph points) the best multimask candidate 1..3 by predicted IoU, otherwise the
 * single-mask output 0 (which also is what refinement feeds back). K = 1 exports made the choice.
 */
export function officialMaskIndex(ious: ArrayLike<number>, pointCount: number): number {
  if (ious.length <= 1) {
    return 0;
  }
  if (pointCount > 2) {
    return 0;
  }
  return bestCandidate(ious);
}

/** Index of the best multimask candidate (1..K-1) by predicted IoU. */
export function bestCandidate(ious: ArrayLike<number>): number {
  let best = 1;
  for (let index = 2; index < ious.length; index += 1) {
    if ((ious[index] ?? -Infinity) > (ious[best] ?? -Infinity)) {
      best = index;
    }
  }
  return best;
}

/** Candidates Tab cycles through: the multimask outputs with one click/box, else only output 0. */
export function cycleCandidates(outputCount: number, pointCount: number): number[] {
  if (outputCount <= 1) {
    return [0];
  }
  return pointCount <= 2 ? Array.from({ length: outputCount - 1 }, (_, i) => i + 1) : [0];
}
