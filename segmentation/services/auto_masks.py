"""Segment everything for one image's content: the engine returns masks; it creates no annotations
(the caller decides what they become)."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from segmentation.models import EmbeddingState, SamModel
from segmentation.sam.auto_masks import generate_masks
from segmentation.services.embeddings import EmbeddingSource, embedding_compute, embeddings_request
from segmentation.services.model_cache import get_sam
from segmentation.storage import read_embedding

# SamAutomaticMaskGenerator's knobs with its own defaults, and the ranges accepted from the API.
DEFAULT_PARAMS: dict[str, float | int] = {
    "points_per_side": 32,
    "pred_iou_thresh": 0.88,
    "stability_score_thresh": 0.95,
    "box_nms_thresh": 0.7,
    "min_mask_region_area": 0,
}
PARAM_RANGES: dict[str, tuple[float, float]] = {
    "points_per_side": (1, 64),
    "pred_iou_thresh": (0.0, 1.0),
    "stability_score_thresh": (0.0, 1.0),
    "box_nms_thresh": (0.0, 1.0),
    "min_mask_region_area": (0, 10**7),
}
MAX_MASKS_PER_IMAGE = 500  # a sanity cap: more drafts than this is noise for a person to review


def auto_mask_params_clean(params: dict[str, Any]) -> dict[str, float | int]:
    """The generator's knobs: the defaults overridden by params (unknown names and out-of-range
    values raise ValidationError)."""
    unknown = set(params) - set(DEFAULT_PARAMS)
    if unknown:
        raise ValidationError({"params": f"Unknown parameter(s) {sorted(unknown)}; known: {sorted(DEFAULT_PARAMS)}."})
    result = dict(DEFAULT_PARAMS)
    for key, value in params.items():
        low, high = PARAM_RANGES[key]
        try:
            number = int(value) if isinstance(DEFAULT_PARAMS[key], int) else float(value)
        except (TypeError, ValueError):
            raise ValidationError({key: "Must be a number."}) from None
        if not low <= number <= high:
            raise ValidationError({key: f"Must be between {low} and {high}."})
        result[key] = number
    return result


def auto_masks_for_image(
    *, model: SamModel, source: EmbeddingSource, height: int, width: int, params: dict[str, Any]
) -> list[dict]:
    """Masks of everything in the image, best predicted IoU first (at most MAX_MASKS_PER_IMAGE):
    [{"rle": COCO RLE, "score": predicted IoU, "point": [x, y] the prompt that found it}]. A missing
    embedding is computed here (auto masks run on the embeddings queue, in the same worker)."""
    (embedding,) = embeddings_request(model=model, sources=[source])
    if embedding.status != EmbeddingState.READY:
        embedding = embedding_compute(embedding.pk)
        if embedding.status != EmbeddingState.READY:
            raise RuntimeError(f"No embedding for image {source.image_sha256[:12]}: {embedding.error}")
    vector, _ = read_embedding(embedding.file.name)
    records = generate_masks(get_sam(model), vector, height=height, width=width, params=params)
    records.sort(key=lambda record: record["predicted_iou"], reverse=True)
    return [
        {"rle": record["segmentation"], "score": record["predicted_iou"], "point": list(record["point_coords"][0])}
        for record in records[:MAX_MASKS_PER_IMAGE]
    ]
