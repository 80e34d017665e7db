"""The frames of a multi-frame DICOM file in real headless Chromium: PageDown / PageUp move between
the file's frames in place (the same document, decoder and sessions), each frame with its own
embedding and its own annotations."""

from __future__ import annotations

import numpy as np
import pytest

from annotator.management.commands.seed_demo import DEMO_PASSWORD
from annotator.models import Image
from tests.annotator.dicom.samples import enhanced_ct, generated_ct, ingest
from tests.e2e.conftest import log_in
from tests.e2e.test_annotator_click_to_segment import DECODER_READY_MS

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def frames(demo_project):
    """A 3-frame enhanced CT (each frame a disc of another size) with the embeddings of frames 1 and 2."""
    from annotator.selectors_embeddings import project_model
    from segmentation.models import Embedding
    from segmentation.services.embeddings import embedding_compute

    yy, xx = np.mgrid[:96, :128]
    series = "1.2.826.0.1.3680043.8.498.77"
    slices = []
    for n, radius in enumerate((12, 20, 28), start=1):
        hounsfield = np.where((yy - 48) ** 2 + (xx - 64) ** 2 < radius**2, 200, -800).astype(np.int64)
        slices.append(generated_ct(hounsfield, series_uid=series, instance_number=n))
    rows = ingest(demo_project, ("series.dcm", enhanced_ct(slices))).accepted
    assert [row.metadata["frame"] for row in rows] == [0, 1, 2]
    model = project_model(demo_project)
    for row in rows[:2]:
        embedding_compute(Embedding.objects.get(image_sha256=row.sha256, model_sha256=model.checkpoint_sha256).pk)
    return rows


def test_page_down_and_up_move_between_frames_in_place(browser, live_server, frames):
    first, second, _ = frames
    page = browser.page
    page.set_viewport_size({"width": 1280, "height": 860})
    log_in(browser, live_server, "annotator1", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/images/{first.pk}/annotate/")
    page.wait_for_selector(f"#annotator-root[data-image-id='{first.pk}'][data-decoder=ready]", timeout=DECODER_READY_MS)
    page.evaluate("window.__sameDocument = true")
    assert "frame 1 / 3" in page.locator("#dicom-bar").inner_text()

    page.locator("#stage").focus()
    page.keyboard.press("PageDown")
    page.wait_for_selector(
        f"#annotator-root[data-image-id='{second.pk}'][data-decoder=ready]", timeout=DECODER_READY_MS
    )
    assert "frame 2 / 3" in page.locator("#dicom-bar").inner_text()
    assert page.url.endswith(f"/images/{second.pk}/annotate/")
    assert page.evaluate("window.__sameDocument") is True

    page.keyboard.press("PageUp")
    page.wait_for_selector(f"#annotator-root[data-image-id='{first.pk}'][data-decoder=ready]", timeout=DECODER_READY_MS)
    assert "frame 1 / 3" in page.locator("#dicom-bar").inner_text()
    assert page.evaluate("window.__sameDocument") is True
    assert Image.objects.filter(file=first.file.name).count() == 3
    assert browser.failed_responses == [] and browser.blocked_requests == []
