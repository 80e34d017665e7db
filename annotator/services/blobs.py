"""Content-addressed blobs of images (originals, display renditions, thumbnails): stored once under
their hash, shared by every row that holds the same content, deleted when no Image row references
them. All through Django's storage API (common.storage.save_atomically for the writes).

An ingest writes its blobs before its row commits, so a process killed in between (SIGTERM past
gunicorn's graceful timeout, SIGKILL, out of memory) would leave blobs no row names. A BlobJournal
lists each blob in storage (incoming/<uuid>.json) before it is written and is removed once the row
committed or the blobs were deleted; the reconciler (`blob_journals_sweep`) deletes the unreferenced
blobs of journals older than its timeout (a killed ingest's), with save_atomically's temporary files."""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Iterable
from datetime import timedelta
from pathlib import PurePosixPath

from django.core.files.storage import default_storage
from django.db.models import Q
from django.utils import timezone

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
    if isinstance(written, BlobJournal):
        written.record(name)  # before the write: a kill during or after it leaves the name listed
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


JOURNAL_FOLDER = "incoming"


class BlobJournal(list):
    """The `written` list of an ingest, also kept in storage until `close()` (see the module docstring)."""

    def __init__(self) -> None:
        super().__init__()
        self.name = f"{JOURNAL_FOLDER}/{uuid.uuid4().hex}.json"
        self._listed: list[str] = []

    def record(self, name: str) -> None:
        self._listed.append(name)
        save_atomically(self.name, json.dumps(self._listed).encode())

    def close(self) -> None:
        """The row committed (its blobs are referenced) or the blobs were deleted: forget them."""
        if self._listed:
            default_storage.delete(self.name)
            self._listed = []


def blob_journals_sweep(*, older_than: timedelta) -> list[str]:
    """Delete the unreferenced blobs (and their temporary files) of journals older than `older_than`,
    then the journals; returns the journals swept. Only killed ingests leave journals this old."""
    try:
        _, files = default_storage.listdir(JOURNAL_FOLDER)
    except FileNotFoundError:
        return []
    cutoff = timezone.now() - older_than
    swept = []
    for file in sorted(files):
        journal = f"{JOURNAL_FOLDER}/{file}"
        try:
            if default_storage.get_modified_time(journal) > cutoff:
                continue
            with default_storage.open(journal, "rb") as handle:
                names = json.loads(handle.read())
        except (OSError, ValueError):
            logger.exception("Unreadable blob journal %s", journal)
            continue
        names = [n for n in names if isinstance(n, str)] if isinstance(names, list) else []
        blobs_delete_unreferenced(names)
        for name in names:
            _delete_temporary_files_of(name)
        default_storage.delete(journal)
        swept.append(journal)
    return swept


def _delete_temporary_files_of(name: str) -> None:
    """save_atomically's temporary files of `name` (".<file name>.<random>…" beside it) that a kill
    during the write left behind."""
    path = PurePosixPath(name)
    try:
        _, files = default_storage.listdir(str(path.parent))
    except (FileNotFoundError, NotImplementedError):
        return
    for file in files:
        if file.startswith(f".{path.name}."):
            default_storage.delete(f"{path.parent}/{file}")
