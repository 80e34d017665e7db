"""Content-addressed blobs of images (originals, display renditions, thumbnails): stored once under
their hash, shared by every row that holds the same content, deleted when no Image row references
them. All through Django's storage API (common.storage.save_atomically for the writes)."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable

from django.core.files.storage import default_storage
from django.db.models import Q

from annotator.models import Image
from annotator.services.renditions import delete_renditions_of
from common.storage import save_atomically

logger = logging.getLogger(__name__)


def blob_store_by_hash(folder: str, data: bytes, extension: str, written: list[str]) -> str:
    """Store bytes as "<folder>/<sha[:2]>/<sha>.<extension>"; see `blob_store`."""
    digest = hashlib.sha256(data).hexdigest()
    return blob_store(f"{folder}/{digest[:2]}/{digest}.{extension}", data, written)


def blob_store(name: str, data: bytes, written: list[str]) -> str:
    """Save content-addressed bytes once (atomically); `written` collects names this call created,
    for `blobs_delete_unreferenced` when the row that was to hold them is not saved."""
    if default_storage.exists(name):
        return name  # same name = same bytes: share the blob
    save_atomically(name, data)  # removes its own temporary file when it fails
    written.append(name)
    return name


def blobs_delete_unreferenced(names: Iterable[str]) -> None:
    """Delete each blob that no Image row references (file, display or thumbnail), with the cached
    smaller renditions of a display file. Failures are logged, never raised: a leftover blob is
    harmless, a failed request is not."""
    for name in names:
        if Image.objects.filter(Q(file=name) | Q(display=name) | Q(thumbnail=name)).exists():
            continue
        try:
            default_storage.delete(name)
            delete_renditions_of(name)  # a display file's cached smaller copies go with it
        except OSError:
            logger.exception("Could not delete unreferenced file %s", name)
