"""Display renditions are made by the worker's task right after upload (and after a DICOM re-render),
so the first open of a very large image does not wait for its scaling."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.files.storage import default_storage
from PIL import Image as PILImage

from annotator.models import Image
from annotator.services.images import images_ingest
from annotator.services.renditions import rendition_name, renditions_make, renditions_request
from config.celery import app as celery_app
from tests.factories import make_image, make_project

pytestmark = pytest.mark.django_db


@pytest.fixture
def eager_tasks():
    """Celery runs a sent task at once, in this process (the real task code, no broker)."""
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


def _png(width: int, height: int) -> bytes:
    rng = np.random.default_rng(width * 7 + height)
    out = io.BytesIO()
    PILImage.fromarray(rng.integers(0, 255, (height, width, 3), dtype=np.uint8)).save(out, "PNG")
    return out.getvalue()


def test_upload_of_a_large_image_leaves_its_rendition_in_storage(
    settings, eager_tasks, django_capture_on_commit_callbacks
):
    settings.ANNOTATOR_DISPLAY_MAX_SIDE = 300
    project = make_project()
    with django_capture_on_commit_callbacks(execute=True):
        report = images_ingest(
            project=project,
            files=[("wide.png", io.BytesIO(_png(900, 300))), ("small.png", io.BytesIO(_png(200, 100)))],
            user=None,
        )
    wide, small = sorted(report.accepted, key=lambda image: -image.width)
    name = rendition_name(wide.display.name, 300)
    assert default_storage.exists(name)
    with default_storage.open(name, "rb") as handle:
        assert PILImage.open(handle).size == (300, 100)
    assert not default_storage.exists(rendition_name(small.display.name, 300))  # it fits: none made


def test_the_task_skips_deleted_and_small_images_and_survives_an_unreadable_file(settings, eager_tasks):
    settings.ANNOTATOR_DISPLAY_MAX_SIDE = 300
    project = make_project()
    big = make_image(project, width=900, height=300, name="big.png")
    broken = make_image(project, width=900, height=400, name="broken.png")
    small = make_image(project, width=40, height=30, name="small.png")
    default_storage.delete(broken.display.name)
    gone = make_image(project, width=800, height=300, name="gone.png")
    gone_id = gone.pk
    Image.objects.filter(pk=gone_id).delete()

    assert renditions_make([big.pk, broken.pk, small.pk, gone_id]) == 1
    assert default_storage.exists(rendition_name(big.display.name, 300))
    assert not default_storage.exists(rendition_name(broken.display.name, 300))


def test_only_images_that_need_one_are_queued(settings, django_capture_on_commit_callbacks):
    settings.ANNOTATOR_DISPLAY_MAX_SIDE = 300
    project = make_project()
    big = make_image(project, width=900, height=300, name="big.png")
    small = make_image(project, width=40, height=30, name="small.png")
    with django_capture_on_commit_callbacks() as callbacks:
        renditions_request([small])
    assert callbacks == []
    with django_capture_on_commit_callbacks() as callbacks:
        renditions_request([big, small])
    assert len(callbacks) == 1
