"""Embedding writes: request on upload, compute in a worker, fail, retry.

Invariant: Image.embedding_status mirrors the Embedding row of (image sha256, project's model sha256)
for every image with that content in every project using that model.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterable

import numpy as np
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import InterfaceError, OperationalError, transaction
from django.db.models import Q

from annotator.models import Image
from segmentation.models import Embedding, EmbeddingState, SamModel
from segmentation.services.models import project_model

logger = logging.getLogger(__name__)


class TransientEmbeddingError(Exception):
    """Worth retrying later (database or broker hiccup, GPU out of memory)."""


def _images_using(embedding: Embedding):
    """Images whose active model is this embedding's model and whose content is its image."""
    model = embedding.model
    uses_model = Q(project__sam_model=model)
    if model.is_default:
        uses_model |= Q(project__sam_model__isnull=True)
    return Image.objects.filter(uses_model, sha256=embedding.image_sha256)


def _sync_images(embedding: Embedding) -> None:
    error = embedding.error if embedding.status == EmbeddingState.FAILED else ""
    _images_using(embedding).update(embedding_status=embedding.status, embedding_error=error)


def _enqueue(embedding_id: int) -> None:
    # Imported here, not at module top: tasks import this module (avoids an import loop).
    from segmentation.tasks import embedding_compute as embedding_compute_task

    transaction.on_commit(lambda: embedding_compute_task.delay(embedding_id))


def embeddings_request(*, images: Iterable[Image]) -> None:
    """Get-or-create the embeddings of these images under their projects' models and enqueue the
    missing ones (after commit). Content already embedded under the same model is reused at once."""
    models: dict[int | None, SamModel] = {}
    with transaction.atomic():
        for image in images:
            key = image.project.sam_model_id
            if key not in models:
                models[key] = project_model(image.project)
            model = models[key]
            embedding, created = Embedding.objects.get_or_create(
                image_sha256=image.sha256, model_sha256=model.checkpoint_sha256, defaults={"model": model}
            )
            if not created and embedding.status == EmbeddingState.FAILED:
                # A new upload of content that failed before: try once more rather than show the old error.
                embedding.status, embedding.error = EmbeddingState.PENDING, ""
                embedding.save(update_fields=["status", "error", "updated_at"])
                created = True
            image.embedding_status, image.embedding_error = embedding.status, ""
            _sync_images(embedding)  # this image, and copies elsewhere if a failure was just reset
            if created:
                _enqueue(embedding.pk)


def embedding_retry(image: Image) -> Embedding:
    """Reset the image's embedding to pending and enqueue it again (the retry button)."""
    with transaction.atomic():
        model = project_model(image.project)
        embedding, _ = Embedding.objects.get_or_create(
            image_sha256=image.sha256, model_sha256=model.checkpoint_sha256, defaults={"model": model}
        )
        embedding = Embedding.objects.select_for_update().select_related("model").get(pk=embedding.pk)
        if embedding.status != EmbeddingState.READY or not default_storage.exists(embedding.file.name or "-"):
            embedding.status, embedding.error, embedding.file = EmbeddingState.PENDING, "", ""
            embedding.save(update_fields=["status", "error", "file", "updated_at"])
            _enqueue(embedding.pk)
        _sync_images(embedding)
    return embedding


def embedding_fail(embedding_id: int, reason: str) -> None:
    embedding = Embedding.objects.select_related("model").get(pk=embedding_id)
    embedding.status, embedding.error = EmbeddingState.FAILED, reason[:2000]
    embedding.save(update_fields=["status", "error", "updated_at"])
    _sync_images(embedding)
    logger.warning("Embedding %s failed: %s", embedding_id, reason)


def _image_pixels(image_sha256: str) -> np.ndarray:
    """HxWx3 uint8 RGB of the display rendition of any image with this content."""
    from PIL import Image as PILImage

    image = Image.objects.filter(sha256=image_sha256).exclude(display="").order_by("id").first()
    if image is None:
        raise ValueError(f"No image with sha256 {image_sha256[:12]} has a display rendition.")
    with default_storage.open(image.display.name, "rb") as handle:
        data = handle.read()
    with PILImage.open(io.BytesIO(data)) as picture:
        return np.asarray(picture.convert("RGB"))


def _claim(embedding_id: int) -> bool:
    """pending/failed/running -> running. Running is claimable too: a redelivered task (acks_late
    after a worker died) must be able to finish the job."""
    return bool(
        Embedding.objects.filter(pk=embedding_id)
        .exclude(status=EmbeddingState.READY)
        .update(status=EmbeddingState.RUNNING)
    )


def _batch_partners(embedding: Embedding, device) -> list[Embedding]:
    """On a GPU, other pending embeddings of the same model, claimed now and encoded in one batch
    (their own tasks then find them ready and return)."""
    if getattr(device, "type", "cpu") != "cuda" or settings.SEGMENTATION_GPU_BATCH_SIZE <= 1:
        return []
    candidates = Embedding.objects.filter(model=embedding.model, status=EmbeddingState.PENDING).exclude(pk=embedding.pk)
    partners = []
    for other in candidates.order_by("id")[: settings.SEGMENTATION_GPU_BATCH_SIZE - 1]:
        if Embedding.objects.filter(pk=other.pk, status=EmbeddingState.PENDING).update(status=EmbeddingState.RUNNING):
            partners.append(other)
    return partners


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, (OperationalError, InterfaceError, ConnectionError, TimeoutError)):
        return True
    return "out of memory" in str(exc).lower()


def embedding_compute(embedding_id: int) -> Embedding:
    """Compute and store the embedding (idempotent: a ready one is left as it is).

    Raises TransientEmbeddingError for failures worth retrying; any other failure is permanent and
    leaves the embedding (and its images) failed with the reason.
    """
    from segmentation.sam.encoder import encode_images
    from segmentation.services.model_cache import get_device, get_sam
    from segmentation.storage import write_embedding

    embedding = Embedding.objects.select_related("model").get(pk=embedding_id)
    if embedding.status == EmbeddingState.READY:
        if embedding.file and default_storage.exists(embedding.file.name):
            _sync_images(embedding)
            return embedding
        # Ready but the file is gone (storage cleaned up): compute it again.
        Embedding.objects.filter(pk=embedding.pk).update(status=EmbeddingState.PENDING, file="")
    if not _claim(embedding.pk):
        return Embedding.objects.get(pk=embedding_id)
    Embedding.objects.filter(pk=embedding.pk).update(attempts=embedding.attempts + 1)
    embedding.status = EmbeddingState.RUNNING
    _sync_images(embedding)
    batch = [embedding]
    try:
        device = get_device()
        batch += _batch_partners(embedding, device)
        for member in batch[1:]:
            _sync_images(Embedding.objects.select_related("model").get(pk=member.pk))
        # Pixels first, one by one: an unreadable image fails alone, not its whole batch.
        readable, pixels = [], []
        for member in batch:
            try:
                pixels.append(_image_pixels(member.image_sha256))
                readable.append(member)
            except Exception as exc:
                if _is_transient(exc):
                    raise
                embedding_fail(member.pk, f"{type(exc).__name__}: {exc}")
        batch = readable
        if batch:
            sam = get_sam(embedding.model)
            started = time.perf_counter()
            vectors = encode_images(sam, pixels, device, batch_size=len(batch))
            elapsed_ms = int((time.perf_counter() - started) * 1000 / len(batch))
            for member, vector in zip(batch, vectors):
                name = write_embedding(vector, model_sha256=member.model_sha256, image_sha256=member.image_sha256)
                Embedding.objects.filter(pk=member.pk).update(
                    status=EmbeddingState.READY, file=name, error="", compute_ms=elapsed_ms
                )
                _sync_images(Embedding.objects.select_related("model").get(pk=member.pk))
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        for member in batch:
            if _is_transient(exc):
                # Back to pending so the retry (or a partner's task) can claim it again.
                Embedding.objects.filter(pk=member.pk).update(status=EmbeddingState.PENDING)
                _sync_images(Embedding.objects.select_related("model").get(pk=member.pk))
            else:
                embedding_fail(member.pk, reason)
        if _is_transient(exc):
            raise TransientEmbeddingError(reason) from exc
        logger.exception("Embedding %s failed permanently", embedding_id)
    return Embedding.objects.select_related("model").get(pk=embedding_id)
