"""Slice propagation for the engine's callers: one SAM step on a stored embedding (computed here when
missing), with prompts from the previous slice's mask. The caller (annotator.services.propagation)
walks its series with segmentation.propagation.propagate_direction and decides what masks become."""

from __future__ import annotations

import numpy as np

from segmentation.models import EmbeddingState, SamModel
from segmentation.propagation import StepOutput, mask_to_low_res
from segmentation.sam.propagation import low_res_side, propagation_step
from segmentation.services.embeddings import EmbeddingSource, embedding_compute, embeddings_request
from segmentation.services.model_cache import get_sam
from segmentation.storage import read_embedding


def embedding_vector(*, model: SamModel, source: EmbeddingSource) -> np.ndarray:
    """The content's (C, h, w) embedding under the model; a missing or pending one is computed now,
    in this worker (propagation does not wait for the embeddings queue)."""
    (embedding,) = embeddings_request(model=model, sources=[source])
    if embedding.status != EmbeddingState.READY:
        embedding = embedding_compute(embedding.pk)
        if embedding.status != EmbeddingState.READY:
            raise RuntimeError(f"No embedding for image {source.image_sha256[:12]}: {embedding.error}")
    vector, _ = read_embedding(embedding.file.name)
    return vector


def propagate_to_slice(
    *, model: SamModel, source: EmbeddingSource, height: int, width: int, previous_mask: np.ndarray, prompts: dict
) -> StepOutput:
    """SAM's mask on this slice from the previous slice's mask (as mask input) and its prompts
    ({"box", "points"} from segmentation.propagation.prompts_from_mask)."""
    sam = get_sam(model)
    mask_input = mask_to_low_res(
        previous_mask, img_size=int(sam.image_encoder.img_size), low_res_side=low_res_side(sam)
    )
    return propagation_step(
        sam,
        embedding_vector(model=model, source=source),
        height=height,
        width=width,
        box=prompts.get("box"),
        points=prompts.get("points", []),
        mask_input=mask_input,
    )
