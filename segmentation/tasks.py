"""Celery tasks of the engine: take ids, call one service. Queues: CELERY_TASK_ROUTES in settings."""

from __future__ import annotations

from celery import shared_task

from segmentation.services import embeddings
from segmentation.services import models as model_registry

EMBEDDING_MAX_RETRIES = 3


@shared_task(bind=True, acks_late=True, max_retries=EMBEDDING_MAX_RETRIES)
def embedding_compute(self, embedding_id: int) -> None:
    try:
        embeddings.embedding_compute(embedding_id)
    except embeddings.TransientEmbeddingError as exc:
        if self.request.retries >= self.max_retries:
            embeddings.embedding_fail(embedding_id, f"Gave up after {self.max_retries} retries: {exc}")
            return
        raise self.retry(exc=exc, countdown=10 * 2**self.request.retries) from exc


@shared_task(acks_late=True)
def decoder_export_refresh(model_id: int) -> None:
    """Re-export a model's decoders after DECODER_EXPORT_VERSION changed (queued by the manifest)."""
    model_registry.decoders_refresh_by_id(model_id)
