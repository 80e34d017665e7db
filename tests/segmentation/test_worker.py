"""A real Celery worker (subprocess, Redis broker, the test database) computes embeddings end to end."""

from __future__ import annotations

import os
import time

import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from rest_framework.test import APIClient

from annotator.models import EmbeddingStatus, Image, Role
from annotator.services.embeddings import embeddings_request
from segmentation.models import Embedding, EmbeddingState
from segmentation.services.models import default_sam_model
from segmentation.storage import read_embedding
from tests.celery_worker import run_worker, use_broker
from tests.factories import image_with_embedding_status, make_image, make_project, make_user

pytestmark = [pytest.mark.integration, pytest.mark.slow]
# A Redis database of its own, so parallel suites (other engineers) do not share queues.
BROKER_URL = os.environ.get("ENGINE_TEST_BROKER_URL", "redis://127.0.0.1:6379/13")


@pytest.fixture
def broker(monkeypatch):
    """Point this process's Celery app at the test broker (fresh connection pools) and empty it."""
    with use_broker(monkeypatch, BROKER_URL) as url:
        yield url


@pytest.fixture
def worker(broker, transactional_db, tmp_path):
    extra_env = {"SAM_CHECKPOINT_DIR": str(settings.SEGMENTATION_CHECKPOINT_DIR), "SAM_DEVICE": "cpu"}
    with (
        run_worker(
            broker_url=broker,
            queues="embeddings",
            name="engine-test",
            log_path=tmp_path / "worker.log",
            extra_env=extra_env,
        ) as (process, log_path),
        open(log_path) as log,
    ):
        yield process, log


def _wait_for(image: Image, wanted: set[str], worker_log, timeout: float = 180) -> Image:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        image = image_with_embedding_status(image)
        if image.embedding_status in wanted:
            return image
        time.sleep(0.5)
    worker_log.seek(0)
    raise AssertionError(f"image {image.pk} still {image.embedding_status}; worker log:\n{worker_log.read()[-4000:]}")


def test_worker_computes_embeddings_and_failure_then_retry(worker):
    process, log = worker
    model = default_sam_model()
    manager = make_user()
    project = make_project(members={manager: Role.MANAGER})
    good = make_image(project, width=80, height=60)
    broken = make_image(project, width=40, height=40)
    good_bytes = default_storage.open(broken.display.name).read()
    with default_storage.open(broken.display.name, "wb") as handle:
        handle.write(b"garbage, not pixels")

    embeddings_request(images=[good, broken])  # autocommit: on_commit enqueues at once

    good = _wait_for(good, {EmbeddingStatus.READY, EmbeddingStatus.FAILED}, log)
    assert good.embedding_status == EmbeddingStatus.READY, good.embedding_error
    embedding = Embedding.objects.get(image_sha256=good.sha256)
    values, header = read_embedding(embedding.file.name)
    assert list(values.shape) == model.embedding_shape and header["model_sha256"] == model.checkpoint_sha256

    broken = _wait_for(broken, {EmbeddingStatus.READY, EmbeddingStatus.FAILED}, log)
    assert broken.embedding_status == EmbeddingStatus.FAILED
    assert "UnidentifiedImageError" in broken.embedding_error

    with default_storage.open(broken.display.name, "wb") as handle:
        handle.write(good_bytes)
    client = APIClient()
    client.force_authenticate(manager)
    assert client.post(f"/api/images/{broken.pk}/embedding/retry/").status_code == 202
    broken = _wait_for(broken, {EmbeddingStatus.READY}, log)
    retried = Embedding.objects.get(image_sha256=broken.sha256)
    assert retried.status == EmbeddingState.READY and retried.attempts == 2
    assert process.poll() is None  # the worker survived the failure
