"""Issue 15, proof of tasks that heal, with real processes: a worker killed with SIGKILL in the
middle of an embedding, and a broker that is down during an upload. In both, the reconciler (its
task function, run here) gets the image "ready" with a new worker within a bounded time.

Broker: the `broker` fixture of tests/faults/conftest.py (Redis when CELERY_BROKER_URL names it).
"""

from __future__ import annotations

import os
import signal
import time
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from annotator.models import EmbeddingStatus, Image, Role
from annotator.services.embeddings import embeddings_request
from annotator.services.reconcile import reconcile
from segmentation.models import Embedding, EmbeddingState
from tests.celery_worker import unreachable_broker
from tests.factories import image_bytes, make_image, make_project, make_user
from tests.faults.helpers import READY_WITHIN_S, embedding_status, embedding_worker, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_worker_killed_mid_embedding_then_the_reconciler_gets_the_image_ready(broker, tmp_path):
    project = make_project()
    image = make_image(project, width=640, height=480)
    with embedding_worker(broker, tmp_path, "doomed") as (process, log_path):
        embeddings_request(images=[image])  # autocommit: sent at once
        wait_until(lambda: embedding_status(image) == EmbeddingStatus.RUNNING, 60, "the embedding starting", log_path)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
    embedding = Embedding.objects.get(image_sha256=image.sha256)
    assert embedding.status == EmbeddingState.RUNNING  # what the dead worker left: no live task

    started = time.monotonic()
    with embedding_worker(broker, tmp_path, "rescuer") as (_, log_path):
        report = reconcile(stale_after=timedelta(0))
        assert embedding.pk in report.embeddings
        wait_until(
            lambda: embedding_status(image) == EmbeddingStatus.READY, READY_WITHIN_S, "the embedding ready", log_path
        )
    assert time.monotonic() - started < READY_WITHIN_S + 60
    assert Embedding.objects.filter(image_sha256=image.sha256).count() == 1


def test_broker_down_during_an_upload_then_the_reconciler_embeds_it(broker, tmp_path, monkeypatch):
    manager = make_user()
    project = make_project(members={manager: Role.MANAGER})
    client = APIClient()
    client.force_authenticate(manager)
    upload = SimpleUploadedFile("scan.png", image_bytes(96, 64, seed=3), content_type="image/png")
    with unreachable_broker(monkeypatch):
        response = client.post(f"/api/projects/{project.pk}/images/", {"files": [upload]}, format="multipart")
    assert response.status_code == 201, response.content
    assert [n["name"] for n in response.json()["notes"]] == ["scan.png"]
    image = Image.objects.get(project=project)
    assert embedding_status(image) == EmbeddingStatus.PENDING

    with embedding_worker(broker, tmp_path, "after-outage") as (_, log_path):
        reconcile(stale_after=timedelta(0))
        wait_until(
            lambda: embedding_status(image) == EmbeddingStatus.READY, READY_WITHIN_S, "the embedding ready", log_path
        )
    assert Image.objects.filter(project=project).count() == 1
