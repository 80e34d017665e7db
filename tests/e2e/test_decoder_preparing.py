"""A model whose stored decoders predate the current export, in real headless Chromium with a real
Celery worker: the page says the decoder is being prepared (and the polygon tool works meanwhile),
the manifest queues the re-export, the worker does it, and the page becomes ready and segments."""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.core.cache import cache

from annotator.management.commands.seed_demo import DEMO_PASSWORD
from annotator.models import Annotation
from annotator.selectors_embeddings import project_model
from segmentation.models import SamModel
from segmentation.services.models import decoders_current
from tests.celery_worker import run_worker, use_broker
from tests.e2e.conftest import log_in
from tests.e2e.test_annotator_click_to_segment import (  # noqa: F401  (shapes_image is a fixture)
    DECODER_READY_MS,
    click_image,
    draw_polygon,
    mask_area,
    shapes_image,
)

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
# A Redis database of its own, so parallel suites do not share queues.
BROKER_URL = os.environ.get("DECODER_TEST_BROKER_URL", "redis://127.0.0.1:6379/10")


@pytest.fixture
def broker(monkeypatch):
    with use_broker(monkeypatch, BROKER_URL) as url:
        yield url


def test_stale_decoders_are_prepared_by_the_worker_while_the_page_waits(
    browser, live_server, shapes_image, broker, tmp_path
):
    model = project_model(shapes_image.project)
    # What an export-version bump leaves behind: the row's decoders no longer match the current export.
    SamModel.objects.filter(pk=model.pk).update(decoder_int8_sha256="")
    model.refresh_from_db()
    assert not decoders_current(model)
    cache.clear()  # no re-export lock left over from another test

    page = browser.page
    page.set_viewport_size({"width": 1280, "height": 860})
    log_in(browser, live_server, "annotator1", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/images/{shapes_image.pk}/annotate/")
    status = page.locator("#decoder-status")
    page.wait_for_selector("#decoder-status[data-status=preparing]")
    assert "being prepared" in status.inner_text()
    page.wait_for_selector("#annotator-root[data-annotations-loaded=true]")

    # No worker yet: the decoder cannot become ready, and the polygon tool works.
    draw_polygon(page, shapes_image, [(10, 10), (60, 10), (60, 60), (10, 60)])
    page.wait_for_function(
        "document.getElementById('annotator-root').dataset.saveState === 'saved'"
        " && document.getElementById('annotator-root').dataset.annotationCount === '1'"
    )
    assert Annotation.objects.filter(image=shapes_image, source="manual").count() == 1
    assert page.locator("#annotator-root").get_attribute("data-decoder") != "ready"

    extra_env = {"SAM_CHECKPOINT_DIR": str(settings.SEGMENTATION_CHECKPOINT_DIR), "SAM_DEVICE": "cpu"}
    with run_worker(
        broker_url=broker,
        queues="default,embeddings",
        name="decoder-prep",
        log_path=tmp_path / "worker.log",
        extra_env=extra_env,
    ) as (_, log_path):
        try:
            page.wait_for_selector("#annotator-root[data-decoder=ready]", timeout=DECODER_READY_MS)
        except Exception as exc:
            raise AssertionError(f"the page never became ready; worker log:\n{log_path.read_text()[-4000:]}") from exc
    model.refresh_from_db()
    assert decoders_current(model)
    assert status.get_attribute("data-status") == "ready"

    page.keyboard.press("s")
    click_image(page, shapes_image, 250, 180)  # inside the demo scene's object (seed_demo)
    assert mask_area(page) > 1000
