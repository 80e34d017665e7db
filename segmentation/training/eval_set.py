"""Held-out synthetic objects for the click simulator (same generator, another seed)."""

from __future__ import annotations

import numpy as np

from segmentation.evaluation.clicks import EvalObject
from segmentation.training.synthetic import generate_scene

EVAL_MIN_AREA = 400  # px at 512x512: smaller objects are dropped from evaluation (0.15% of the image)
OBJECTS_PER_IMAGE = 3


def generate_eval_set(seed: int, count: int, size: int = 512) -> tuple[list[EvalObject], dict[str, np.ndarray]]:
    """`count` objects, up to OBJECTS_PER_IMAGE per scene; image keys are 'img0000', 'img0001', ..."""
    rng = np.random.default_rng(seed)
    objects: list[EvalObject] = []
    images: dict[str, np.ndarray] = {}
    while len(objects) < count:
        scene = generate_scene(rng, size=size)
        big = [m for m in scene.masks if m.sum() >= EVAL_MIN_AREA]
        if not big:
            continue
        key = f"img{len(images):04d}"
        images[key] = scene.image
        for k in rng.permutation(len(big))[: min(OBJECTS_PER_IMAGE, count - len(objects))]:
            objects.append(EvalObject(image_key=key, foreground=big[k], ignore=np.zeros_like(big[k])))
    return objects, images
