"""The annotator's side of embeddings: which image content needs an embedding under which model.

The engine (segmentation) keys embeddings by (image sha256, model sha256) and reads the pixels from
the storage name given here: the image's display rendition (8-bit RGB, as a person sees it).
"""

from __future__ import annotations

from collections.abc import Iterable

from annotator.models import Image
from annotator.selectors_embeddings import project_model
from segmentation.models import Embedding, SamModel
from segmentation.services import embeddings as engine
from segmentation.services.embeddings import EmbeddingSource


def embedding_source(image: Image) -> EmbeddingSource:
    return EmbeddingSource(image_sha256=image.sha256, source_name=image.display.name)


def embeddings_request(*, images: Iterable[Image]) -> None:
    """Request the embeddings of these images under their projects' models (computed after the
    commit; content already embedded under the same model is reused at once)."""
    by_model: dict[int | None, tuple[SamModel, list[EmbeddingSource]]] = {}
    for image in images:
        key = image.project.sam_model_id
        if key not in by_model:
            by_model[key] = (project_model(image.project), [])
        by_model[key][1].append(embedding_source(image))
    for model, sources in by_model.values():
        engine.embeddings_request(model=model, sources=sources)


def project_embeddings_request(project_id: int) -> None:
    """Request every image's embedding under the project's model as it is now: after the project
    switched to a model with another image encoder (a version trained with its encoder), none of its
    stored embeddings fit. The project page's embedding counts show the progress."""
    images = Image.objects.filter(project_id=project_id).select_related("project", "project__sam_model")
    embeddings_request(images=images.order_by("id").iterator(chunk_size=500))


def embedding_retry(image: Image) -> Embedding:
    """Compute the image's embedding again unless it is ready (the retry button)."""
    return engine.embedding_retry(model=project_model(image.project), source=embedding_source(image))
