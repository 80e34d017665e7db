"""Slice propagation end to end: real Chromium, the live server and a real Celery worker (Redis, the
test database, the default model). An annotator opens the middle slice of a generated CT series,
accepts a SAM object there, propagates it (Shift+P), steps through the series (PageDown, wheel) with
the window kept, accepts the drafts, and the SEG export holds the set as one segment over its slices
(read back with highdicom, dciodvfy when installed)."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pytest
from django.conf import settings

from annotator.models import Annotation, AnnotationSource, Role
from annotator.selectors_embeddings import project_model
from annotator.services.series import series_slices
from segmentation.models import Embedding
from segmentation.services.embeddings import embedding_compute
from segmentation.services.models import default_sam_model
from tests.annotator.dicom.samples import generated_ct, ingest
from tests.annotator.dicom.seg_helpers import dciodvfy_errors, export_zip, read_seg, seg_members
from tests.celery_worker import run_worker, use_broker
from tests.e2e.conftest import log_in
from tests.e2e.test_annotator_click_to_segment import DECODER_READY_MS, mask_area, to_screen, wait_saved
from tests.factories import PASSWORD, make_label_class, make_project, make_user

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]
BROKER_URL = os.environ.get("PROPAGATION_TEST_BROKER_URL", "redis://127.0.0.1:6379/14")
SLICES, SIZE, CENTER = 9, 96, (50, 46)


@pytest.fixture
def broker(monkeypatch):
    with use_broker(monkeypatch, BROKER_URL) as url:
        yield url


@pytest.fixture
def worker(broker, transactional_db, tmp_path):
    extra_env = {"SAM_CHECKPOINT_DIR": str(settings.SEGMENTATION_CHECKPOINT_DIR), "SAM_DEVICE": "cpu"}
    with run_worker(
        broker_url=broker,
        queues="default,embeddings",
        name="e2e-propagation",
        log_path=tmp_path / "worker.log",
        extra_env=extra_env,
    ) as started:
        yield started


@pytest.fixture
def series(broker, transactional_db):
    """Ingested before the worker starts (SQLite: no concurrent writer while 9 files are stored); the
    embeddings they request wait in Redis for it."""
    default_sam_model()
    annotator = make_user("slicer", password=PASSWORD)
    project = make_project("Series", members={annotator: Role.ANNOTATOR})
    make_label_class(project, "lesion", color="#ff0000")
    rng = np.random.default_rng(3)
    z, y, x = np.mgrid[0:SLICES, 0:SIZE, 0:SIZE].astype(np.float32)
    truth = ((x - CENTER[0]) / 18) ** 2 + ((y - CENTER[1]) / 15) ** 2 + ((z - 4) / 3.6) ** 2 <= 1
    hu = (np.round((np.where(truth, 150, 20) + rng.normal(0, 8, truth.shape)) / 2) * 2).astype(np.int64)
    files = [
        (f"s{k + 1}.dcm", generated_ct(hu[k], series_uid="1.2.826.0.1.3680043.8.498.1515", instance_number=k + 1))
        for k in range(SLICES)
    ]
    report = ingest(project, *files[::-1])
    assert report.rejected == []
    slices = series_slices(report.accepted[0])
    middle = slices[4]
    embedding = Embedding.objects.get(image_sha256=middle.sha256, model_sha256=project_model(project).encoder_sha256)
    embedding_compute(embedding.pk)  # the page's decoder is ready at once; the worker embeds the rest
    return annotator, project, slices


def test_propagate_accept_and_export_a_series(browser, live_server, series, worker, tmp_path):
    annotator, project, slices = series
    page = browser.page
    page.set_viewport_size({"width": 1280, "height": 860})
    log_in(browser, live_server, annotator.username, PASSWORD)
    middle = slices[4]
    page.goto(f"{live_server.url}/images/{middle.pk}/annotate/")
    # Generous: on a loaded 2-core machine the decoder session took over a minute here.
    page.wait_for_selector("#annotator-root[data-decoder=ready]", timeout=3 * DECODER_READY_MS)
    assert page.locator("#series-status").inner_text() == "slice 5 / 9"

    # Accept an object on the middle slice (a SAM click, Enter), then select it and propagate.
    page.mouse.move(*to_screen(page, middle, *CENTER))
    page.mouse.click(*to_screen(page, middle, *CENTER))
    assert mask_area(page) > 100
    page.keyboard.press("Enter")
    wait_saved(page, 1)
    seed = Annotation.objects.get(image=middle)
    page.keyboard.press("v")
    page.mouse.click(*to_screen(page, middle, *CENTER))
    page.wait_for_function("document.getElementById('annotator-root').dataset.selected !== ''")
    page.keyboard.press("Shift+P")
    page.wait_for_function(
        "['done', 'failed'].includes(document.getElementById('annotator-root').dataset.propagation)", timeout=300_000
    )
    assert page.locator("#annotator-root").get_attribute("data-propagation") == "done"
    assert "propagated:" in page.locator("#propagation-status").inner_text()
    drafts = list(Annotation.objects.filter(propagated_from=seed))
    assert drafts and all(d.proposed and d.source == AnnotationSource.PROPAGATED for d in drafts)

    # A window set here is kept while stepping: PageDown, then the wheel.
    page.locator("#stage").focus()
    page.keyboard.press("]")
    page.wait_for_function("document.getElementById('annotator-root').dataset.window !== '40/400'")
    window = page.locator("#annotator-root").get_attribute("data-window")
    page.keyboard.press("PageDown")
    page.wait_for_function("document.getElementById('series-status')?.innerText === 'slice 6 / 9'")
    page.wait_for_function("([w]) => document.getElementById('annotator-root').dataset.window === w", arg=[window])
    page.mouse.move(*to_screen(page, slices[5], 10, 10))
    page.mouse.wheel(0, 100)
    page.wait_for_function("document.getElementById('series-status')?.innerText === 'slice 7 / 9'")

    # Accept the drafts (the whole run's), then export: one SEG, one segment, seed + drafts as frames.
    page.click("#accept-drafts")
    page.wait_for_function("document.getElementById('annotator-root').dataset.draftsAccepted !== undefined")
    assert not Annotation.objects.filter(propagated_from=seed, proposed=True).exists()
    archive, _summary = export_zip(project)
    (member,) = seg_members(archive)
    data = archive.read(member)
    seg = read_seg(data)
    assert seg.number_of_segments == 1 and int(seg.NumberOfFrames) == 1 + len(drafts)
    assert {uid for _, _, uid in seg.get_source_image_uids()} == {
        s.metadata["sop_instance_uid"] for s in [middle, *(d.image for d in drafts)]
    }
    if shutil.which("dciodvfy"):
        assert dciodvfy_errors(tmp_path / "seg.dcm", data) == []
    # A slice opened before the worker embedded it answers 409 "not ready" to the page's embedding
    # fetch, which polls until ready: expected here, any other failure is not.
    assert [r for r in browser.failed_responses if not (r.startswith("409 ") and r.endswith("/embedding/"))] == []
