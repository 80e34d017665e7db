"""Issue 15, no orphan files when an upload is killed: an ingest writes its blobs before its row
commits; a process killed in between left blobs that no row names, forever. The BlobJournal lists them
first, and the reconciler deletes a killed ingest's unreferenced blobs once its journal is old."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.core.files.storage import default_storage

from annotator.models import Image
from annotator.services.blobs import BlobJournal, blob_journals_sweep, blob_store
from annotator.services.images import images_ingest
from annotator.services.reconcile import reconcile
from tests.celery_worker import use_filesystem_broker
from tests.factories import image_bytes, make_image, make_project

pytestmark = pytest.mark.django_db(transaction=True)


class Killed(BaseException):
    """Stands in for the process dying: no `except Exception` (nor any clean-up) sees it."""


def _media_files() -> set[str]:
    root = Path(settings.MEDIA_ROOT)
    return {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}


def _image_files() -> set[str]:
    return {n for n in _media_files() if n.split("/")[0] in ("originals", "display", "thumbnails", "incoming")}


def test_an_ingest_killed_before_its_commit_leaves_no_orphan_blob_after_the_reconciler(monkeypatch):
    project = make_project()
    original_create = Image.objects.create

    def create_then_die(**fields):
        raise Killed  # the blobs are written, the row never commits

    monkeypatch.setattr(Image.objects, "create", create_then_die)
    with pytest.raises(Killed):
        images_ingest(project=project, files=[("scan.png", io.BytesIO(image_bytes(64, 48, seed=5)))], user=None)
    monkeypatch.setattr(Image.objects, "create", original_create)
    assert not Image.objects.exists()
    left = _image_files()
    assert any(n.startswith("originals/") for n in left) and any(n.startswith("incoming/") for n in left)

    with use_filesystem_broker(monkeypatch):
        assert reconcile().blob_journals == []  # younger than the timeout: the ingest may still be running
        report = reconcile(stale_after=timedelta(0))
    assert len(report.blob_journals) == 1
    assert _image_files() == set()


def test_a_committed_ingest_leaves_no_journal_and_the_sweep_keeps_referenced_blobs():
    project = make_project()
    report = images_ingest(project=project, files=[("a.png", io.BytesIO(image_bytes(40, 30, seed=9)))], user=None)
    (image,) = report.accepted
    assert not any(n.startswith("incoming/") for n in _media_files())

    shared = make_image(project)  # a blob a row holds, listed by a journal of a killed ingest
    journal = BlobJournal()
    blob_store(shared.file.name, b"unused: exists already", journal)  # exists: not listed, not rewritten
    orphan = blob_store("originals/ff/" + "f" * 64 + ".png", b"orphan", journal)
    journal.record(shared.file.name)
    (Path(settings.MEDIA_ROOT) / "originals/ff" / f".{'f' * 64}.png.0123abcd.tmp").write_bytes(b"half")
    assert blob_journals_sweep(older_than=timedelta(0)) == [journal.name]
    assert not default_storage.exists(orphan)
    assert default_storage.exists(shared.file.name) and default_storage.exists(image.file.name)
    assert not any(n.startswith("originals/ff/") or n.startswith("incoming/") for n in _media_files())
