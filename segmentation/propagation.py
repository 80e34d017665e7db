"""Slice propagation through a volume (pure numpy/OpenCV; the SAM step is segmentation.sam.propagation).

From an accepted mask on one slice, each neighbouring slice is segmented with prompts made from the
previous slice's mask: its box, points from its interior (the deepest point first, then others far
from the border and from each other) and the mask itself as SAM's mask input (as +-8 logits; fed the
previous step's own low-res logits instead, masks grew faster on the phantom of
bench/propagation.py). The walk goes one direction at a time and stops where the object ends: the
predicted IoU or the stability score falls under its threshold, the area jumps (shrinks or grows by
more than the ratios allow) or vanishes, or the range is reached.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np


@dataclass(frozen=True)
class StopRule:
    """When a predicted slice is not the object any more (thresholds measured in bench/propagation.py)."""

    min_predicted_iou: float = 0.7  # SAM's own IoU estimate
    min_stability: float = 0.8  # IoU of the masks at logit thresholds -1 and +1
    min_area_ratio: float = 0.5  # area / previous slice's area
    max_area_ratio: float = 1.6
    min_area: int = 10  # pixels: smaller is "the object has ended"


@dataclass
class StepOutput:
    mask: np.ndarray  # (H, W) bool
    predicted_iou: float
    stability: float
    low_res: np.ndarray | None = None  # (1, 1, S, S) logits to feed the next step


@dataclass
class PropagatedSlice:
    index: int  # slice index in the volume
    output: StepOutput
    prompts: dict = field(default_factory=dict)


@dataclass
class DirectionResult:
    slices: list[PropagatedSlice]
    stop_reason: str  # why the walk ended


def stop_reason(output: StepOutput, previous_area: int, rule: StopRule) -> str | None:
    """None when the slice continues the object; else the reason the walk stops there."""
    area = int(np.count_nonzero(output.mask))
    if area < rule.min_area:
        return f"object ended (area {area} px)"
    if not output.predicted_iou >= rule.min_predicted_iou:  # NaN stops too
        return f"predicted IoU {output.predicted_iou:.2f} < {rule.min_predicted_iou:.2f}"
    if not output.stability >= rule.min_stability:
        return f"stability {output.stability:.2f} < {rule.min_stability:.2f}"
    ratio = area / max(1, previous_area)
    if ratio < rule.min_area_ratio or ratio > rule.max_area_ratio:
        return f"area changed {ratio:.2f}x (allowed {rule.min_area_ratio:g}..{rule.max_area_ratio:g})"
    return None


def prompts_from_mask(mask: np.ndarray, *, points: int = 1) -> dict:
    """{"box": [x0, y0, x1, y1], "points": [[x, y], ...]} in pixels: the mask's bounding box and up to
    `points` interior points, the deepest first, then each the farthest from those chosen among pixels
    at least half the deepest distance from the border."""
    ys, xs = np.nonzero(mask)
    if len(xs) == 0:
        return {"box": None, "points": []}
    box = [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]
    padded = np.pad(mask.astype(np.uint8), 1)
    depth = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    deep_y, deep_x = np.nonzero(depth >= max(1.0, float(depth.max()) / 2))
    candidates = np.stack([deep_x, deep_y], axis=1).astype(np.float64)
    first = np.unravel_index(int(np.argmax(depth)), depth.shape)
    chosen = [np.array([first[1], first[0]], dtype=np.float64)]
    while len(chosen) < points and len(candidates):
        gaps = np.min([np.linalg.norm(candidates - c, axis=1) for c in chosen], axis=0)
        best = int(np.argmax(gaps))
        if gaps[best] < 2.0:  # a tiny mask has no distinct interior points left
            break
        chosen.append(candidates[best])
    return {"box": box, "points": [[int(c[0]), int(c[1])] for c in chosen]}


def mask_to_low_res(mask: np.ndarray, *, img_size: int, low_res_side: int, logit: float = 8.0) -> np.ndarray:
    """A binary mask as SAM mask-input logits (1, 1, S, S): resized as the encoder resizes the image
    (longest side to img_size, padded bottom/right), then to S x S; +logit inside, -logit outside."""
    height, width = mask.shape
    scale = img_size / max(height, width)
    new_h, new_w = int(height * scale + 0.5), int(width * scale + 0.5)
    resized = cv2.resize(mask.astype(np.float32), (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    square = np.zeros((img_size, img_size), dtype=np.float32)
    square[:new_h, :new_w] = resized
    low = cv2.resize(square, (low_res_side, low_res_side), interpolation=cv2.INTER_AREA)
    return ((low * 2.0 - 1.0) * logit).astype(np.float32)[None, None]


Step = Callable[[int, np.ndarray, dict], StepOutput]


def propagate_direction(
    step: Step, *, seed_mask: np.ndarray, indices: Sequence[int], rule: StopRule, points: int = 1
) -> DirectionResult:
    """Walk `indices` (the slices after the seed in one direction, nearest first, already cut to the
    range): step(index, previous mask, prompts from it) predicts each slice; the first slice that
    fails the rule ends the walk and is not kept."""
    previous = seed_mask.astype(bool)
    kept: list[PropagatedSlice] = []
    for index in indices:
        prompts = prompts_from_mask(previous, points=points)
        output = step(index, previous, prompts)
        reason = stop_reason(output, int(np.count_nonzero(previous)), rule)
        if reason is not None:
            return DirectionResult(slices=kept, stop_reason=f"slice {index}: {reason}")
        kept.append(PropagatedSlice(index=index, output=output, prompts=prompts))
        previous = output.mask
    return DirectionResult(slices=kept, stop_reason="range or series end reached")


def walk_indices(seed: int, count: int, max_slices: int) -> tuple[list[int], list[int]]:
    """(slices after the seed, slices before it), nearest first, at most max_slices each way."""
    after = list(range(seed + 1, min(count, seed + 1 + max_slices)))
    before = list(range(seed - 1, max(-1, seed - 1 - max_slices), -1))
    return after, before
