"""Embedding writes: request, compute in a worker, fail, retry. Keyed by (image sha256, encoder sha256):
every model with the same image encoder (a fine-tuned version and its parent) shares one embedding.

The engine knows no image table: a caller names the content (sha256) and a storage name of its 8-bit
RGB pixels (source_name); the Embedding row is the one record of the embedding's status.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterable
from typing import Any, NamedTuple

import numpy as np
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone
from PIL import Image as PILImage

from common.tasks import enqueue_on_commit
from segmentation.models import Embedding, EmbeddingState, SamModel
from segmentation.sam.encoder import encode_images
from segmentation.services.model_cache import get_device, get_sam
from segmentation.storage import write_embedding

logger = logging.getLogger(__name__)

EMBEDDING_COMPUTE_TASK = "segmentation.tasks.embedding_compute"


class TransientEmbeddingError(Exception):
    """Worth retrying later (database or broker hiccup, GPU out of memory)."""


class EmbeddingSource(NamedTuple):
    """What to embed: the content's sha256 and a storage name of its 8-bit RGB pixels."""

    image_sha256: str
    source_name: str


def embeddings_request(*, model: SamModel, sources: Iterable[EmbeddingSource]) -> list[Embedding]:
    """Get-or-create the embeddings of these contents under the model and enqueue the missing ones
    (after commit). Content already embedded under the same encoder is reused at once; content that
    failed before is tried once more rather than showing the old error."""
    embeddings = []
    with transaction.atomic():
        for source in sources:
            embedding, created = Embedding.objects.get_or_create(
                image_sha256=source.image_sha256,
                model_sha256=model.encoder_sha256,
                defaults={"model": model, "source_name": source.source_name},
            )
            if not created and embedding.status == EmbeddingState.FAILED:
                embedding.status, embedding.error, embedding.source_name = (
                    EmbeddingState.PENDING,
                    "",
                    source.source_name,
                )
                embedding.save(update_fields=["status", "error", "source_name", "updated_at"])
                created = True
            if created:
                enqueue_on_commit(EMBEDDING_COMPUTE_TASK, embedding.pk)
            embeddings.append(embedding)
    return embeddings


def embedding_retry(*, model: SamModel, source: EmbeddingSource) -> Embedding:
    """Reset the embedding to pending and enqueue it again (the retry button); a ready one whose
    file still exists is left as it is."""
    with transaction.atomic():
        embedding, _ = Embedding.objects.get_or_create(
            image_sha256=source.image_sha256,
            model_sha256=model.encoder_sha256,
            defaults={"model": model, "source_name": source.source_name},
        )
        embedding = Embedding.objects.select_for_update().select_related("model").get(pk=embedding.pk)
        if embedding.status != EmbeddingState.READY or not default_storage.exists(embedding.file.name or "-"):
            embedding.status, embedding.error, embedding.file = EmbeddingState.PENDING, "", ""
            embedding.source_name = source.source_name
            embedding.save(update_fields=["status", "error", "file", "source_name", "updated_at"])
            enqueue_on_commit(EMBEDDING_COMPUTE_TASK, embedding.pk)
    return embedding


def embedding_fail(embedding_id: int, reason: str) -> None:
    Embedding.objects.filter(pk=embedding_id).update(status=EmbeddingState.FAILED, error=reason[:2000])
    logger.warning("Embedding %s failed: %s", embedding_id, reason)


def source_pixels(embedding: Embedding) -> np.ndarray:
    """HxWx3 uint8 RGB of the embedding's source file."""
    if not embedding.source_name:
        raise ValueError(f"Embedding {embedding.pk} names no source pixels (request it again).")
    return _stored_rgb(embedding.source_name)


def _stored_rgb(name: str, longest: int | None = None) -> np.ndarray:
    with default_storage.open(name, "rb") as handle:
        data = handle.read()
    with PILImage.open(io.BytesIO(data)) as picture:
        rgb = picture.convert("RGB")
        if longest is not None and max(rgb.size) > longest:
            rgb.thumbnail((longest, longest), PILImage.Resampling.BILINEAR)
        return np.asarray(rgb)


# Every SAM encoder takes at most 1024-px inputs: pixels kept for encoder training are no larger, so
# a project of large images fits in a training worker's memory (about 3 MB an image).
TRAINING_PIXELS_LONGEST = 1024


def pixels_for_training(source_name: str) -> np.ndarray:
    """HxWx3 uint8 RGB of an embedding's source, longest side at most TRAINING_PIXELS_LONGEST (the
    encoder resizes to its input size anyway; the aspect ratio, which the masks share, is kept)."""
    return _stored_rgb(source_name, TRAINING_PIXELS_LONGEST)


def _claim(embedding_id: int) -> bool:
    """pending/failed/running -> running. Running is claimable too: a redelivered task (acks_late
    after a worker died) must be able to finish the job."""
    return bool(
        Embedding.objects.filter(pk=embedding_id)
        .exclude(status=EmbeddingState.READY)
        # updated_at: when it started running (the reconciler's clock for a worker that died).
        .update(status=EmbeddingState.RUNNING, updated_at=timezone.now())
    )


def batch_size_for(device: Any) -> int:
    """Images encoded together on this device (SAM_GPU_BATCH_SIZE on CUDA, SAM_CPU_BATCH_SIZE else)."""
    if getattr(device, "type", "cpu") == "cuda":
        return max(1, settings.SEGMENTATION_GPU_BATCH_SIZE)
    return max(1, settings.SEGMENTATION_CPU_BATCH_SIZE)


def _batch_partners(embedding: Embedding, device: Any) -> list[Embedding]:
    """Other pending embeddings of the same encoder, claimed now and encoded in one batch with this
    one (their own tasks then find them ready and return)."""
    size = batch_size_for(device)
    if size <= 1:
        return []
    candidates = Embedding.objects.filter(model_sha256=embedding.model_sha256, status=EmbeddingState.PENDING).exclude(
        pk=embedding.pk
    )
    partners = []
    for other in candidates.order_by("id")[: size - 1]:
        claimed = Embedding.objects.filter(pk=other.pk, status=EmbeddingState.PENDING)
        if claimed.update(status=EmbeddingState.RUNNING, updated_at=timezone.now()):
            partners.append(other)
    return partners


def _is_transient(exc: BaseException) -> bool:
    if isinstance(exc, (OperationalError, InterfaceError, ConnectionError, TimeoutError)):
        return True
    return "out of memory" in str(exc).lower()


def embedding_compute(embedding_id: int) -> Embedding:
    """Compute and store the embedding (idempotent: a ready one is left as it is).

    Raises TransientEmbeddingError for failures worth retrying; any other failure is permanent and
    leaves the embedding failed with the reason.
    """
    embedding = Embedding.objects.select_related("model").get(pk=embedding_id)
    if embedding.status == EmbeddingState.READY:
        if embedding.file and default_storage.exists(embedding.file.name):
            return embedding
        # Ready but the file is gone (storage cleaned up): compute it again.
        Embedding.objects.filter(pk=embedding.pk).update(status=EmbeddingState.PENDING, file="")
    if not _claim(embedding.pk):
        return Embedding.objects.get(pk=embedding_id)
    Embedding.objects.filter(pk=embedding.pk).update(attempts=embedding.attempts + 1)
    embedding.status = EmbeddingState.RUNNING
    batch = [embedding]
    try:
        device = get_device()
        batch += _batch_partners(embedding, device)
        # Pixels first, one by one: an unreadable image fails alone, not its whole batch.
        readable, pixels = [], []
        for member in batch:
            try:
                pixels.append(source_pixels(member))
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
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        for member in batch:
            if _is_transient(exc):
                # Back to pending so the retry (or a partner's task) can claim it again.
                Embedding.objects.filter(pk=member.pk).update(status=EmbeddingState.PENDING)
            else:
                embedding_fail(member.pk, reason)
        if _is_transient(exc):
            raise TransientEmbeddingError(reason) from exc
        logger.exception("Embedding %s failed permanently", embedding_id)
    return Embedding.objects.select_related("model").get(pk=embedding_id)
