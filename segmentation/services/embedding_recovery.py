"""Embeddings whose task was lost (worker killed, broker down at the send): found by their clock and
sent again. The engine knows no image table; the annotator's reconciler (annotator.services.reconcile)
calls these on a beat.

Embedding.updated_at is the clock: set at the request, at every reset to pending and when a worker
claims the row (services.embeddings._claim). A pending or running row older than the timeout has no
live task: its message was lost, or its worker died mid-compute (Redis would only redeliver it after
the broker's visibility timeout). Sending it again is safe: the task is idempotent and a running row
can be claimed again.
"""

from __future__ import annotations

from datetime import timedelta

from django.db.models import QuerySet
from django.utils import timezone

from common.tasks import enqueue
from segmentation.models import Embedding, EmbeddingState

EMBEDDING_COMPUTE_TASK = "segmentation.tasks.embedding_compute"


def embeddings_stale(*, older_than: timedelta, limit: int = 500) -> QuerySet[Embedding]:
    """Pending or running embeddings with no progress for `older_than`, oldest first."""
    cutoff = timezone.now() - older_than
    return Embedding.objects.filter(
        status__in=[EmbeddingState.PENDING, EmbeddingState.RUNNING], updated_at__lt=cutoff
    ).order_by("updated_at", "id")[:limit]


def embedding_requeue(embedding_id: int) -> bool:
    """Back to pending with a fresh clock, then send its task again. False when the broker could
    not be reached (the row stays pending, so the next pass tries again)."""
    updated = Embedding.objects.filter(
        pk=embedding_id, status__in=[EmbeddingState.PENDING, EmbeddingState.RUNNING]
    ).update(status=EmbeddingState.PENDING, updated_at=timezone.now())
    return bool(updated) and enqueue(EMBEDDING_COMPUTE_TASK, embedding_id)
