"""Training samples on the fly: one scene -> image + several target masks sharing one embedding.

A sample is what the GPU loop needs and nothing more, with fixed shapes so the default collate works:
  image  (S, S, 3) uint8            S = img_size; rows/cols beyond `valid` are padding (like SAM's pad)
  gt     (T, S/2, S/2) uint8 0..255  soft target masks at the decoder's low-res grid (area-averaged)
  boxes  (T, 4) float32              tight boxes (x0, y0, x1, y1) in input pixels
  valid  (2,) int64                  (height, width) of the unpadded content
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
from torch.utils.data import IterableDataset, get_worker_info

from segmentation.training.synthetic import generate_scene


def make_sample(rng: np.random.Generator, img_size: int, targets: int) -> dict[str, np.ndarray]:
    while True:
        scene = generate_scene(rng, size=img_size)
        if scene.masks:
            break
    image = scene.image.copy()
    masks = np.stack(scene.masks).astype(np.uint8)  # (K, S, S)
    vh = vw = img_size
    if rng.random() < 0.3:  # non-square content: SAM pads bottom/right after resizing the longest side
        short = int(rng.uniform(0.45, 1.0) * img_size)
        if rng.random() < 0.5:
            vh = short
        else:
            vw = short
        image[vh:], image[:, vw:] = 0, 0
        masks[:, vh:], masks[:, :, vw:] = 0, 0
    areas = masks.reshape(len(masks), -1).sum(1)
    present = np.flatnonzero(areas >= 40)
    if len(present) == 0:
        return make_sample(rng, img_size, targets)
    # Favour no size: pick distinct objects first, repeat only when the scene has too few.
    chosen = rng.permutation(present)[:targets]
    if len(chosen) < targets:
        chosen = np.concatenate([chosen, rng.choice(present, targets - len(chosen))])
    low = img_size // 2
    gt = np.empty((targets, low, low), np.uint8)
    boxes = np.empty((targets, 4), np.float32)
    for t, k in enumerate(chosen):
        m = masks[k]
        gt[t] = cv2.resize(m * 255, (low, low), interpolation=cv2.INTER_AREA)
        x, y, w, h = cv2.boundingRect(m)
        boxes[t] = (x, y, x + w, y + h)
    return {"image": image, "gt": gt, "boxes": boxes, "valid": np.array([vh, vw], np.int64)}


class SyntheticStream(IterableDataset):
    """Endless stream; each DataLoader worker draws from its own stream, seeded by (seed, worker id)."""

    def __init__(self, seed: int, img_size: int, targets: int) -> None:
        super().__init__()
        self.seed, self.img_size, self.targets = seed, img_size, targets

    def __iter__(self):
        info = get_worker_info()
        wid = info.id if info is not None else 0
        if info is not None:  # worker processes: one thread each avoids oversubscribing the cores
            cv2.setNumThreads(1)
            torch.set_num_threads(1)
        rng = np.random.default_rng([self.seed, wid])
        while True:
            yield make_sample(rng, self.img_size, self.targets)
