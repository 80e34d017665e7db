"""The annotator page in real headless Chromium: click-to-segment on the demo image with a known
object (default model, onnxruntime-web in a worker), negative clicks, mask cycling, polygons, undo,
and everything still there after a reload."""

from __future__ import annotations

import numpy as np
import pytest

from annotator import geometry
from annotator.management.commands.seed_demo import DEMO_PASSWORD, SHAPES_IMAGE, demo_shapes_scene
from annotator.models import Annotation
from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DECODER_READY_MS = 60_000


@pytest.fixture
def shapes_image(demo_project):
    """The synthetic image, with its embedding computed in-process (no worker)."""
    from annotator.selectors_embeddings import project_model
    from segmentation.models import Embedding
    from segmentation.services.embeddings import embedding_compute
    from tests.factories import image_with_embedding_status

    image = demo_project.images.get(original_name=f"{SHAPES_IMAGE}.png")
    model = project_model(demo_project)
    embedding = Embedding.objects.get(image_sha256=image.sha256, model_sha256=model.checkpoint_sha256)
    embedding_compute(embedding.pk)
    image = image_with_embedding_status(image)
    assert image.embedding_status == "ready"
    return image


def open_annotator(browser, live_server, image):
    page = browser.page
    page.set_viewport_size({"width": 1280, "height": 860})
    log_in(browser, live_server, "annotator1", DEMO_PASSWORD)
    # The page runs under the app's Content-Security-Policy (config.middleware): the decoder worker,
    # onnxruntime's wasm and its threads must load with nothing refused.
    refused: list[str] = []
    page.on(
        "console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None
    )
    response = page.goto(f"{live_server.url}/images/{image.pk}/annotate/")
    assert response.headers["cross-origin-opener-policy"] == "same-origin"
    assert response.headers["cross-origin-embedder-policy"] == "require-corp"
    assert "'wasm-unsafe-eval'" in response.headers["content-security-policy"]
    page.wait_for_selector("#annotator-root[data-decoder=ready]", timeout=DECODER_READY_MS)
    page.wait_for_selector("#annotator-root[data-annotations-loaded=true]")
    assert refused == []
    return page


def to_screen(page, image, x: float, y: float) -> tuple[float, float]:
    """Image pixels -> page coordinates under the initial fit view (same rule as fitView)."""
    box = page.locator("#canvas").bounding_box()
    zoom = min(box["width"] / image.width, box["height"] / image.height)
    pan_x = (box["width"] - image.width * zoom) / 2
    pan_y = (box["height"] - image.height * zoom) / 2
    return box["x"] + pan_x + x * zoom, box["y"] + pan_y + y * zoom


def draw_polygon(page, image, points: list[tuple[float, float]]) -> None:
    """Polygon tool: click each vertex, then the first one again, which closes the polygon."""
    page.keyboard.press("p")
    for x, y in [*points, points[0]]:
        page.mouse.click(*to_screen(page, image, x, y))


def mask_area(page) -> int:
    page.wait_for_function("document.getElementById('annotator-root').dataset.maskArea !== ''")
    return int(page.locator("#annotator-root").get_attribute("data-mask-area"))


def wait_saved(page, count: int) -> None:
    page.wait_for_function(
        "([n]) => { const d = document.getElementById('annotator-root').dataset;"
        " return d.saveState === 'saved' && d.annotationCount === String(n); }",
        arg=[count],
    )


def click_image(page, image, x: float, y: float, **options) -> None:
    page.mouse.move(*to_screen(page, image, x, y))
    page.mouse.click(*to_screen(page, image, x, y), **options)


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.logical_and(a, b).sum() / np.logical_or(a, b).sum())


def test_page_is_cross_origin_isolated_and_loads_only_local_files(browser, live_server, shapes_image):
    page = open_annotator(browser, live_server, shapes_image)
    assert page.evaluate("crossOriginIsolated") is True
    assert page.locator("#isolation-status").get_attribute("data-isolated") == "true"
    status = page.locator("#decoder-status").inner_text()
    assert "2 threads" in status
    # The execution provider is named (headless Chromium with --disable-gpu has no WebGPU: wasm), and
    # the first-click split is in use (the registered model has the prep + first-click graphs).
    assert "wasm" in status and "first-click graph int8, refinement fp32" in status, status
    assert page.locator("#error-banner").is_hidden()
    assert browser.failed_responses == []


def test_click_inside_object_accept_and_saved_mask_matches_ground_truth(browser, live_server, shapes_image):
    page = open_annotator(browser, live_server, shapes_image)
    _, truth = demo_shapes_scene()

    click_image(page, shapes_image, 250, 180)
    assert mask_area(page) > 1000
    page.keyboard.press("Enter")
    wait_saved(page, 1)

    annotation = Annotation.objects.get(image=shapes_image)
    saved = geometry.polygons_to_mask(annotation.polygons, width=shapes_image.width, height=shapes_image.height)
    assert iou(saved, truth) >= 0.85, iou(saved, truth)
    assert annotation.source == "sam_click"
    assert annotation.click_count == 1
    assert annotation.prompts["points"] == [[pytest.approx(250, abs=1), pytest.approx(180, abs=1), 1]]
    assert annotation.time_spent_ms > 0
    assert annotation.author.username == "annotator1"
    assert browser.failed_responses == []


def test_negative_click_shrinks_the_mask_and_tab_cycles_candidates(browser, live_server, shapes_image):
    page = open_annotator(browser, live_server, shapes_image)
    root = page.locator("#annotator-root")

    click_image(page, shapes_image, 250, 180)
    first_area = mask_area(page)
    first_index = root.get_attribute("data-mask-index")
    assert first_index in {"1", "2", "3"}  # one click: the best multimask candidate
    seen = {first_index}
    areas = {first_index: first_area}
    for _ in range(3):
        page.keyboard.press("Tab")  # synchronous: the others are upscaled on the page from their logits
        seen.add(root.get_attribute("data-mask-index"))
        areas[root.get_attribute("data-mask-index")] = int(root.get_attribute("data-mask-area"))
    assert seen == {"1", "2", "3"}
    assert "predicted IoU" in page.locator("#candidate-status").inner_text()
    # Each candidate shows its own mask (the worker sends only the first one upscaled).
    assert len(set(areas.values())) > 1 and all(area > 0 for area in areas.values()), areas
    # Back on the first candidate after a full cycle, the same mask as the worker's.
    assert root.get_attribute("data-mask-index") == first_index
    assert int(root.get_attribute("data-mask-area")) == first_area

    # A negative click on the bar sticking out: the mask refines (output 0) and shrinks.
    page.evaluate("document.getElementById('annotator-root').dataset.maskArea = ''")
    click_image(page, shapes_image, 400, 180, button="right")
    page.wait_for_function("document.getElementById('annotator-root').dataset.maskIndex === '0'")
    assert mask_area(page) < first_area

    page.keyboard.press("Escape")
    assert root.get_attribute("data-mask-area") == ""
    assert Annotation.objects.filter(image=shapes_image).count() == 0
