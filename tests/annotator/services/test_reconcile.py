"""Issue 15, tasks that heal: a send the broker refuses never fails the request, and the reconciler
sends lost work again (embeddings, missing embeddings, exports, segment-everything, fine-tuning).

Sends go to the real filesystem broker of the test var dir (tests.celery_worker.queued_sends reads them); the
unreachable broker is a real Redis URL on a closed port."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from annotator.models import AutoMaskJob, AutoMaskJobStatus, Export, ExportStatus, Image, Role
from annotator.services.embeddings import embeddings_request
from annotator.services.reconcile import reconcile
from common.tasks import enqueue, enqueue_failures
from segmentation.models import Embedding, EmbeddingState
from tests.celery_worker import queued_sends, unreachable_broker, use_filesystem_broker
from tests.factories import image_bytes, make_image, make_label_class, make_project, make_user

pytestmark = pytest.mark.django_db(transaction=True)
EMBED = "segmentation.tasks.embedding_compute"


@pytest.fixture(autouse=True)
def filesystem_broker(monkeypatch):
    """Sends land in files this test reads, also where CELERY_BROKER_URL names Redis (CI)."""
    with use_filesystem_broker(monkeypatch) as folder:
        yield folder


def test_a_send_to_an_unreachable_broker_is_recorded_not_raised(monkeypatch):
    with unreachable_broker(monkeypatch), enqueue_failures() as failed:
        assert enqueue(EMBED, 123456) is False
    assert failed == [EMBED]


def test_upload_with_the_broker_down_succeeds_with_a_note_and_the_reconciler_sends_it(monkeypatch):
    manager = make_user()
    project = make_project(members={manager: Role.MANAGER})
    client = APIClient()
    client.force_authenticate(manager)
    upload = SimpleUploadedFile("a.png", image_bytes(64, 48, seed=7), content_type="image/png")
    with unreachable_broker(monkeypatch):
        response = client.post(f"/api/projects/{project.pk}/images/", {"files": [upload]}, format="multipart")
    assert response.status_code == 201, response.content
    assert response.json()["notes"] == [{"name": "a.png", "note": response.json()["notes"][0]["note"]}]
    assert "embedding will be retried" in response.json()["notes"][0]["note"]
    image = Image.objects.get(project=project)
    embedding = Embedding.objects.get(image_sha256=image.sha256)
    assert embedding.status == EmbeddingState.PENDING and f"({embedding.pk},)" not in queued_sends(EMBED)

    assert reconcile().embeddings == []  # not stale yet: a live task may still be on its way
    report = reconcile(stale_after=timedelta(0))
    assert report.embeddings == [embedding.pk]
    assert f"({embedding.pk},)" in queued_sends(EMBED)


def test_a_running_embedding_whose_worker_died_is_sent_again_and_a_fresh_one_is_not():
    project = make_project()
    dead, fresh = make_image(project, width=32, height=32), make_image(project, width=40, height=40)
    embeddings_request(images=[dead, fresh])
    Embedding.objects.filter(image_sha256=dead.sha256).update(
        status=EmbeddingState.RUNNING, updated_at=timezone.now() - timedelta(hours=1)
    )
    report = reconcile(stale_after=timedelta(minutes=5))
    dead_row = Embedding.objects.get(image_sha256=dead.sha256)
    assert report.embeddings == [dead_row.pk] and dead_row.status == EmbeddingState.PENDING
    # Its clock moved: the next pass does not send it a second time.
    assert reconcile(stale_after=timedelta(minutes=5)).embeddings == []


def test_images_without_an_embedding_get_one_requested():
    project = make_project()
    image = make_image(project, width=32, height=32)
    Embedding.objects.filter(image_sha256=image.sha256).delete()
    report = reconcile()
    assert image.pk in report.missing_embeddings
    assert Embedding.objects.filter(image_sha256=image.sha256, status=EmbeddingState.PENDING).exists()


def test_a_lost_export_is_sent_again_after_two_sightings_without_progress():
    project = make_project()
    export = Export.objects.create(project=project, format="coco", status=ExportStatus.RUNNING, progress=0.25)
    assert reconcile(stale_after=timedelta(0)).exports == []  # first sighting
    assert reconcile(stale_after=timedelta(0)).exports == [export.pk]
    export.refresh_from_db()
    assert export.status == ExportStatus.QUEUED and f"({export.pk},)" in queued_sends("annotator.tasks.export_run")


def test_a_moving_export_is_left_alone():
    project = make_project()
    export = Export.objects.create(project=project, format="coco", status=ExportStatus.RUNNING, progress=0.1)
    reconcile(stale_after=timedelta(0))
    Export.objects.filter(pk=export.pk).update(progress=0.2)
    assert reconcile(stale_after=timedelta(0)).exports == []


def test_a_stale_segment_everything_job_is_sent_again():
    project = make_project()
    image = make_image(project, width=32, height=32)
    job = AutoMaskJob.objects.create(
        project=project, label_class=make_label_class(project), image_ids=[image.pk], status=AutoMaskJobStatus.RUNNING
    )
    AutoMaskJob.objects.filter(pk=job.pk).update(updated_at=timezone.now() - timedelta(hours=1))
    assert reconcile(stale_after=timedelta(minutes=5)).auto_mask_jobs == [job.pk]
    assert f"({job.pk},)" in queued_sends("annotator.tasks.auto_masks_compute")
    assert reconcile(stale_after=timedelta(minutes=5)).auto_mask_jobs == []
