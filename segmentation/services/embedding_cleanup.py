"""Deleting embeddings whose image content no one holds any more (rows and files, every model).

The engine knows no image table: the caller (annotator.services.images) decides which contents are
unused. Files go through Django's storage API; a failure is logged, never raised (a leftover file is
harmless, a failed delete request is not).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from django.core.files.storage import default_storage

from segmentation.models import Embedding

logger = logging.getLogger(__name__)


def embeddings_delete(*, image_sha256s: Iterable[str]) -> int:
    """Delete the embeddings of these image contents under every model; returns how many rows went."""
    rows = list(Embedding.objects.filter(image_sha256__in=set(image_sha256s)).only("pk", "file"))
    names = [row.file.name for row in rows if row.file]
    Embedding.objects.filter(pk__in=[row.pk for row in rows]).delete()
    for name in names:
        try:
            default_storage.delete(name)
        except OSError:
            logger.exception("Could not delete embedding file %s", name)
    return len(rows)
