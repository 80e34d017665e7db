"""The standard interactive-segmentation click simulator and its metrics (pure numpy/OpenCV).

Protocol (as in the interactive-segmentation literature): the first click goes to the object's
point farthest from its border; every next click goes to the point farthest from the border of the
largest error region of the current prediction, positive if that region is missed foreground and
negative if it is false background. Pixels labelled "ignore" count neither way. IoU is recorded
after every click; NoC@t is the number of clicks to reach IoU >= t, or max_clicks when never reached.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

import cv2
import numpy as np


@dataclass(frozen=True)
class Click:
    y: int
    x: int
    positive: bool


@dataclass
class EvalObject:
    """One object to segment: a key naming its image (for the predictor) and its truth."""

    image_key: str
    foreground: np.ndarray  # (H, W) bool
    ignore: np.ndarray  # (H, W) bool; pixels excluded from IoU and never clicked


class ClickPredictor(Protocol):
    def predict(self, requests: Sequence[tuple[int, Sequence[Click]]]) -> list[np.ndarray]:
        """For each (object index, all clicks so far) return the predicted (H, W) bool mask.
        A predictor may keep per-object state (e.g. the previous low-res logits) keyed by index."""


def iou(pred: np.ndarray, obj: EvalObject) -> float:
    keep = ~obj.ignore
    inter = np.count_nonzero(pred & obj.foreground & keep)
    union = np.count_nonzero((pred | obj.foreground) & keep)
    return 1.0 if union == 0 else inter / union


def _deepest_point(region: np.ndarray) -> tuple[int, int]:
    """(y, x) farthest from the region's border; the image edge counts as border (zero padding)."""
    padded = np.pad(region.astype(np.uint8), 1)
    dist = cv2.distanceTransform(padded, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
    y, x = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return int(y), int(x)


def _largest_component(mask: np.ndarray) -> tuple[np.ndarray, int]:
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if count <= 1:
        return np.zeros_like(mask, dtype=bool), 0
    k = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    return labels == k, int(stats[k, cv2.CC_STAT_AREA])


def next_click(pred: np.ndarray, obj: EvalObject) -> Click | None:
    """The simulated labeler's next click, or None when the prediction has no error left."""
    keep = ~obj.ignore
    missed, _ = _largest_component(obj.foreground & ~pred & keep)
    extra, _ = _largest_component(pred & ~obj.foreground & keep)
    n_missed, n_extra = np.count_nonzero(missed), np.count_nonzero(extra)
    if n_missed == 0 and n_extra == 0:
        return None
    positive = bool(n_missed >= n_extra)
    y, x = _deepest_point(missed if positive else extra)
    return Click(y=y, x=x, positive=positive)


def simulate(
    predictor: ClickPredictor, objects: Sequence[EvalObject], max_clicks: int = 20, deadline: float | None = None
) -> np.ndarray:
    """Run the simulator on all objects together (one predictor call per click round, so batched
    predictors can batch). Returns IoU after each click, shape (len(objects), max_clicks), or fewer
    columns when time.monotonic() passes `deadline` (a time-boxed run still reports early clicks)."""
    n = len(objects)
    ious = np.zeros((n, max_clicks), np.float64)
    clicks: list[list[Click]] = [[] for _ in range(n)]
    preds = [np.zeros_like(o.foreground, dtype=bool) for o in objects]
    # OpenCV releases the GIL, so a few threads place the clicks of many objects in parallel.
    pool = ThreadPoolExecutor(max_workers=min(8, os.cpu_count() or 1))
    for k in range(max_clicks):
        if deadline is not None and k > 0 and time.monotonic() > deadline:
            ious = ious[:, :k]
            break
        requests = []
        next_clicks = list(pool.map(next_click, preds, objects))
        for i, obj in enumerate(objects):
            click = next_clicks[i]
            if click is None:  # nothing left to fix: the labeler stops, the mask stays
                ious[i, k] = iou(preds[i], obj) if k else 0.0
                continue
            clicks[i].append(click)
            requests.append((i, list(clicks[i])))
        if requests:
            for (i, _), mask in zip(requests, predictor.predict(requests)):
                preds[i] = mask.astype(bool)
                ious[i, k] = iou(preds[i], objects[i])
    pool.shutdown()
    return ious


def noc(ious: np.ndarray, threshold: float) -> np.ndarray:
    """Clicks needed per object to reach `threshold`, max_clicks when never reached."""
    reached = ious >= threshold
    first = np.argmax(reached, axis=1) + 1
    return np.where(reached.any(axis=1), first, ious.shape[1])


def summarize(ious: np.ndarray) -> dict[str, float]:
    out: dict[str, float] = {"objects": float(len(ious)), "max_clicks": float(ious.shape[1])}
    for k in (1, 2, 3, 4, 5, 10, 20):
        if k <= ious.shape[1]:
            out[f"mIoU@{k}"] = float(ious[:, k - 1].mean())
    for t in (85, 90):
        counts = noc(ious, t / 100)
        out[f"NoC@{t}"] = float(counts.mean())
        out[f"fail@{t}"] = float((ious.max(axis=1) < t / 100).mean())  # share never reaching t
    return out


def format_table(summary: dict[str, float]) -> str:
    lines = [f"objects {int(summary['objects'])}, up to {int(summary['max_clicks'])} clicks"]
    for key in ("mIoU@1", "mIoU@2", "mIoU@3", "mIoU@4", "mIoU@5", "mIoU@10", "mIoU@20"):
        if key in summary:
            lines.append(f"{key:<8} {summary[key]:.3f}")
    for t in (85, 90):
        lines.append(f"NoC@{t}   {summary[f'NoC@{t}']:.2f}   (never reached: {summary[f'fail@{t}']:.1%})")
    lines.append(f"NoC@90 {summary['NoC@90']:.2f} mIoU@1 {summary['mIoU@1']:.3f}")
    return "\n".join(lines)
