"""A manager opens a CT image in real headless Chromium, changes the window (preset, keys, Shift+right-drag),
sees the displayed pixels change, sets it as the project's window, and still segments with a click: the
embedding keeps the stored rendition, so SAM's mask does not depend on the window being looked at."""

from __future__ import annotations

import io

import numpy as np
import pydicom
import pytest

from annotator import geometry
from annotator.management.commands.seed_demo import DEMO_PASSWORD, demo_shapes_scene
from annotator.models import Annotation, Project
from tests.annotator.dicom.samples import generated_ct, ingest
from tests.e2e.conftest import log_in
from tests.e2e.test_annotator_click_to_segment import DECODER_READY_MS, iou, mask_area, to_screen, wait_saved

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]
# Scene luminance (0..255) -> HU: 4 * L - 500 covers -500..520 HU; the file's window maps it back to L.
FILE_WINDOW = (10.0, 1024.0)
OBJECT_POINT = (250, 180)  # inside the pentagon of the demo shapes scene
BACKGROUND_POINT = (60, 300)


def shapes_ct() -> bytes:
    """The demo shapes scene as a signed CT slice with rescale (HU = 2 * stored - 24) and a window that
    shows it as its grey version."""
    scene, _ = demo_shapes_scene()
    luminance = scene.astype(np.float64) @ np.array([0.299, 0.587, 0.114])
    hounsfield = (np.rint(luminance) * 4 - 500).astype(np.int64)
    ds = pydicom.dcmread(io.BytesIO(generated_ct(hounsfield)))
    ds.WindowCenter, ds.WindowWidth = FILE_WINDOW
    buffer = io.BytesIO()
    ds.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


@pytest.fixture
def ct_image(demo_project):
    """The CT in the demo project, its embedding computed in-process (no worker)."""
    from annotator.selectors_embeddings import project_model
    from segmentation.models import Embedding
    from segmentation.services.embeddings import embedding_compute
    from tests.factories import image_with_embedding_status

    image = ingest(demo_project, ("shapes-ct.dcm", shapes_ct())).accepted[0]
    embedding = Embedding.objects.get(
        image_sha256=image.sha256, model_sha256=project_model(demo_project).checkpoint_sha256
    )
    embedding_compute(embedding.pk)
    image = image_with_embedding_status(image)
    assert image.embedding_status == "ready" and image.metadata["window"] == {"center": 10.0, "width": 1024.0}
    return image


def canvas_pixel(page, image, x: float, y: float) -> list[int]:
    """RGBA of the canvas at image pixel (x, y) under the fit view."""
    box = page.locator("#canvas").bounding_box()
    sx, sy = to_screen(page, image, x, y)
    return page.evaluate(
        "([x, y]) => Array.from(document.getElementById('canvas').getContext('2d').getImageData(x, y, 1, 1).data)",
        [round(sx - box["x"]), round(sy - box["y"])],
    )


def wait_rendered(page, window: str) -> None:
    page.wait_for_function(
        "([w]) => document.getElementById('annotator-root').dataset.windowRendered === w", arg=[window]
    )
    page.wait_for_timeout(100)  # the app draws on the next animation frame


def test_manager_changes_the_window_and_segments_a_ct_image(browser, live_server, ct_image):
    page = browser.page
    page.set_viewport_size({"width": 1280, "height": 860})
    log_in(browser, live_server, "admin", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/images/{ct_image.pk}/annotate/")
    page.wait_for_selector("#annotator-root[data-decoder=ready]", timeout=DECODER_READY_MS)
    root = page.locator("#annotator-root")
    assert root.get_attribute("data-window") == "10/1024"
    assert "C 10 / W 1024" in page.locator("#window-values").inner_text()
    assert "SAM sees this window" in page.locator("#window-sam-note").inner_text()
    options = page.locator("#window-preset option").all_inner_texts()
    assert any("lung" in option for option in options) and options[-1] == "custom…"
    before_object = canvas_pixel(page, ct_image, *OBJECT_POINT)
    before_background = canvas_pixel(page, ct_image, *BACKGROUND_POINT)

    # A preset: the server renders the stored original with the lung window, the page swaps it in.
    page.select_option("#window-preset", "preset:lung")
    wait_rendered(page, "-600/1500")
    after_object = canvas_pixel(page, ct_image, *OBJECT_POINT)
    after_background = canvas_pixel(page, ct_image, *BACKGROUND_POINT)
    assert abs(after_object[0] - before_object[0]) > 20 or abs(after_background[0] - before_background[0]) > 20, (
        before_object,
        after_object,
        before_background,
        after_background,
    )
    assert "C -600 / W 1500" in page.locator("#window-values").inner_text()
    assert "SAM still uses the file's window C 10 / W 1024" in page.locator("#window-sam-note").inner_text()

    # Keys: ] widens by a tenth of the width (to 1650), ' then raises the level by a twentieth of that (83).
    page.locator("#stage").focus()
    page.keyboard.press("]")
    page.keyboard.press("'")
    wait_rendered(page, "-517/1650")

    # Shift+right-drag changes the window and adds no SAM point (right click alone is the negative point).
    sx, sy = to_screen(page, ct_image, 100, 100)
    page.keyboard.down("Shift")
    page.mouse.move(sx, sy)
    page.mouse.down(button="right")
    page.mouse.move(sx + 40, sy + 20, steps=4)
    page.mouse.up(button="right")
    page.keyboard.up("Shift")
    page.wait_for_function("document.getElementById('annotator-root').dataset.window !== '-517/1650'")
    center, width = map(float, root.get_attribute("data-window").split("/"))
    assert width > 1650 and center > -517
    page.wait_for_function(
        "([w]) => document.getElementById('annotator-root').dataset.windowRendered === w",
        arg=[root.get_attribute("data-window")],
    )
    assert root.get_attribute("data-mask-area") in ("", None)  # no SAM prompt was made

    # Back to the lung preset, then "Use this window for the project" (manager).
    page.select_option("#window-preset", "custom")
    page.fill("#window-center", "-600")
    page.fill("#window-width", "1500")
    page.locator("#window-width").dispatch_event("change")
    wait_rendered(page, "-600/1500")
    page.click("#window-use-for-project")
    page.wait_for_function("document.getElementById('annotator-root').dataset.projectWindow === '-600/1500'")
    project = Project.objects.get(pk=ct_image.project_id)
    assert project.dicom_window == {"center": -600.0, "width": 1500.0}
    assert project.dicom_render_state["status"] in ("queued", "running", "done")

    # Click inside the object: SAM's mask comes from the embedding of the stored rendition.
    _, truth = demo_shapes_scene()
    page.mouse.move(*to_screen(page, ct_image, *OBJECT_POINT))
    page.mouse.click(*to_screen(page, ct_image, *OBJECT_POINT))
    assert mask_area(page) > 1000
    page.keyboard.press("Enter")
    wait_saved(page, 1)
    annotation = Annotation.objects.get(image=ct_image)
    saved = geometry.polygons_to_mask(annotation.polygons, width=ct_image.width, height=ct_image.height)
    assert iou(saved, truth) >= 0.7, iou(saved, truth)
    assert annotation.source == "sam_click"
    assert page.locator("#error-banner").is_hidden()
    assert browser.failed_responses == []
