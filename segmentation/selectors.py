"""Reads of the segmentation engine (all query shaping lives here)."""

from __future__ import annotations

from segmentation.models import Embedding, SamModel


def embedding_get(*, image_sha256: str, model: SamModel) -> Embedding | None:
    """The embedding of this content under this model's encoder (shared across projects, and with
    every model of the same encoder: a fine-tuned version reads its parent's embeddings)."""
    return (
        Embedding.objects.select_related("model")
        .filter(image_sha256=image_sha256, model_sha256=model.encoder_sha256)
        .first()
    )
