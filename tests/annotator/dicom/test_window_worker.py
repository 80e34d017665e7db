"""Changing a project's DICOM window with a real Celery worker (subprocess, Redis, the test database):
the re-render task changes the display pixels and the embedding path computes a new embedding."""

from __future__ import annotations

import io
import os
import time

import numpy as np
import pytest
from django.conf import settings
from django.core.files.storage import default_storage
from PIL import Image as PILImage
from rest_framework.test import APIClient

from annotator.models import Image, Project, Role
from segmentation.models import Embedding, EmbeddingState
from segmentation.services.models import default_sam_model
from segmentation.storage import read_embedding
from tests.annotator.dicom.samples import generated_ct, ingest
from tests.celery_worker import run_worker, use_broker
from tests.factories import image_with_embedding_status, make_project, make_user

pytestmark = [pytest.mark.integration, pytest.mark.slow]
# A Redis database of its own, so parallel suites do not share queues.
BROKER_URL = os.environ.get("DICOM_TEST_BROKER_URL", "redis://127.0.0.1:6379/9")
HU = np.tile(np.arange(-1000, 1000, 8, dtype=np.int64), (64, 1))


@pytest.fixture
def default_model(transactional_db):
    """The real default model (overrides the package's placeholder row): the worker encodes with it."""
    return default_sam_model()


@pytest.fixture
def worker(broker, transactional_db, tmp_path, default_model):
    extra_env = {"SAM_CHECKPOINT_DIR": str(settings.SEGMENTATION_CHECKPOINT_DIR), "SAM_DEVICE": "cpu"}
    with run_worker(
        broker_url=broker,
        queues="default,embeddings",
        name="dicom-test",
        log_path=tmp_path / "worker.log",
        extra_env=extra_env,
    ) as (process, log_path):
        yield process, log_path


@pytest.fixture
def broker(monkeypatch):
    with use_broker(monkeypatch, BROKER_URL) as url:
        yield url


def wait_for(check, log_path, what: str, timeout: float = 240):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}; worker log:\n{log_path.read_text()[-4000:]}")


def display(image: Image) -> np.ndarray:
    with default_storage.open(image.display.name, "rb") as handle:
        return np.asarray(PILImage.open(io.BytesIO(handle.read())).convert("L"))


def ready_embedding(image: Image) -> Embedding | None:
    """The image's embedding once both it and the image say ready (the worker updates one, then the other)."""
    image.refresh_from_db()
    if image_with_embedding_status(image).embedding_status != "ready":
        return None
    return Embedding.objects.filter(image_sha256=image.sha256, status=EmbeddingState.READY).first()


def test_window_change_rerenders_and_recomputes_the_embedding(worker):
    process, log_path = worker
    manager = make_user()
    project = make_project(members={manager: Role.MANAGER})
    image = ingest(project, ("ct.dcm", generated_ct(HU))).accepted[0]
    first = wait_for(lambda: ready_embedding(image), log_path, "the upload's embedding")
    old_key, old_pixels = image.sha256, display(image)
    old_vector, _ = read_embedding(first.file.name)

    client = APIClient()
    client.force_authenticate(manager)
    response = client.patch(f"/api/projects/{project.pk}/", {"dicom_window": "ct-lung"}, format="json")
    assert response.status_code == 200, response.json()

    wait_for(
        lambda: Project.objects.get(pk=project.pk).dicom_render_state.get("status") == "done",
        log_path,
        "the re-render task",
    )
    second = wait_for(lambda: ready_embedding(image), log_path, "the new rendition's embedding")
    assert image.sha256 != old_key and second.image_sha256 == image.sha256 and second.pk != first.pk
    assert image_with_embedding_status(image).embedding_status == "ready"
    new_pixels = display(image)
    assert np.abs(new_pixels.astype(int) - old_pixels.astype(int)).max() > 50
    new_vector, header = read_embedding(second.file.name)
    assert header["image_sha256"] == image.sha256
    assert not np.allclose(np.asarray(new_vector, dtype=np.float32), np.asarray(old_vector, dtype=np.float32))
    assert process.poll() is None
