"""Moving between images in real headless Chromium: A/D, the Next link and the browser's back button
open the other image in place. The decoder worker, its runtime and sessions stay (no page load), the
next image's embedding is handed to the worker ahead of time, edits are saved before leaving, and
what was annotated is there when coming back."""

from __future__ import annotations

import pytest

from annotator.management.commands.seed_demo import SHAPES_IMAGE
from annotator.models import Annotation
from tests.e2e.test_annotator_click_to_segment import (  # noqa: F401  (shapes_image is a fixture)
    DECODER_READY_MS,
    click_image,
    draw_polygon,
    mask_area,
    open_annotator,
    shapes_image,
    to_screen,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def ready_on(page, image_id: int) -> None:
    page.wait_for_selector(f"#annotator-root[data-image-id='{image_id}'][data-decoder=ready]", timeout=DECODER_READY_MS)
    page.wait_for_selector(f"#annotator-root[data-image-id='{image_id}'][data-annotations-loaded=true]")


@pytest.fixture
def two_images(demo_project, shapes_image):
    """The image before the shapes image and the shapes image, both with embeddings (in-process)."""
    from annotator.selectors_embeddings import project_model
    from segmentation.models import Embedding
    from segmentation.services.embeddings import embedding_compute
    from tests.factories import image_with_embedding_status

    first = demo_project.images.filter(pk__lt=shapes_image.pk).order_by("-pk").first()
    model = project_model(demo_project)
    embedding_compute(Embedding.objects.get(image_sha256=first.sha256, model_sha256=model.checkpoint_sha256).pk)
    first = image_with_embedding_status(first)
    assert first.embedding_status == "ready" and shapes_image.original_name == f"{SHAPES_IMAGE}.png"
    return first, shapes_image


def test_next_previous_and_back_move_in_place_with_the_same_decoder(browser, live_server, two_images):
    first, shapes = two_images
    requested: list[str] = []
    browser.page.on("request", lambda request: requested.append(request.url))
    page = open_annotator(browser, live_server, first)
    page.evaluate("window.__sameDocument = true")  # gone if anything reloads the page
    # The next image's embedding reaches the worker shortly after this one is ready, and its
    # picture is fetched ahead too.
    page.wait_for_selector("#annotator-root[data-next-ahead=ready]", timeout=DECODER_READY_MS)
    assert any(url.endswith(f"/api/images/{shapes.pk}/file/") for url in requested)

    # A polygon on the first image, then D at once: leaving waits for the save.
    draw_polygon(page, first, [(20, 20), (90, 20), (90, 80), (20, 80)])
    page.keyboard.press("d")
    ready_on(page, shapes.pk)
    assert Annotation.objects.filter(image=first).count() == 1
    assert page.url.endswith(f"/images/{shapes.pk}/annotate/")
    assert page.title().startswith(f"{SHAPES_IMAGE}.png")
    assert page.evaluate("window.__sameDocument") is True
    assert page.evaluate("performance.getEntriesByName('sam:bundle').length") == 1  # one boot for the tab
    root = page.locator("#annotator-root")
    assert root.get_attribute("data-embedding-ahead") == "true"  # not fetched again on arrival
    assert root.get_attribute("data-annotation-count") in (None, "0")

    # Click-to-segment works on the new image (its embedding, the tab's sessions).
    page.keyboard.press("s")
    click_image(page, shapes, 250, 180)
    assert mask_area(page) > 1000
    page.keyboard.press("Escape")

    # A (previous image) shows what was saved there; the browser's back button returns to shapes.
    page.keyboard.press("a")
    ready_on(page, first.pk)
    page.wait_for_function("document.getElementById('annotator-root').dataset.annotationCount === '1'")
    assert page.url.endswith(f"/images/{first.pk}/annotate/")
    page.go_back()
    ready_on(page, shapes.pk)
    assert page.url.endswith(f"/images/{shapes.pk}/annotate/")

    # The Prev link is a plain link moving in place too.
    page.click("#prev-image")
    ready_on(page, first.pk)
    assert page.evaluate("window.__sameDocument") is True
    assert browser.failed_responses == [] and browser.blocked_requests == []


def test_an_edit_that_cannot_be_saved_keeps_the_image_unless_the_labeler_chooses_to_leave(
    browser, live_server, two_images
):
    from django.db.models import F

    first, shapes = two_images
    page = open_annotator(browser, live_server, first)
    draw_polygon(page, first, [(20, 20), (90, 20), (90, 80), (20, 80)])
    page.wait_for_function(
        "document.getElementById('annotator-root').dataset.saveState === 'saved'"
        " && document.getElementById('annotator-root').dataset.annotationCount === '1'"
    )
    Annotation.objects.filter(image=first).update(version=F("version") + 1)  # someone else saved meanwhile

    page.keyboard.press("v")
    page.mouse.click(*to_screen(page, first, 55, 50))
    page.wait_for_function("document.getElementById('annotator-root').dataset.selected !== ''")
    page.keyboard.press("2")  # label class 2 for the selected annotation: its save meets the 409
    page.wait_for_selector("#annotator-root[data-save-state=conflict]")

    dialogs: list[str] = []
    page.once("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.keyboard.press("d")
    page.wait_for_selector("#error-banner[data-kind=unsaved-move]:not([hidden])")
    assert dialogs and "not saved" in dialogs[0]
    assert page.locator("#annotator-root").get_attribute("data-image-id") == str(first.pk)
    assert page.url.endswith(f"/images/{first.pk}/annotate/")

    page.once("dialog", lambda dialog: dialog.accept())  # leave anyway
    page.keyboard.press("d")
    ready_on(page, shapes.pk)
    assert Annotation.objects.get(image=first).label_class.name == "object"  # the other person's copy stands


def test_a_page_that_is_not_the_annotator_gets_a_full_page_load(browser, live_server, two_images):
    first, shapes = two_images
    page = open_annotator(browser, live_server, first)
    page.evaluate("window.__sameDocument = true")
    gone = shapes.pk
    shapes.delete()  # gone meanwhile: its annotator page is now a 404
    page.keyboard.press("d")
    page.wait_for_url(f"**/images/{gone}/annotate/")
    page.wait_for_load_state()
    assert page.evaluate("window.__sameDocument === undefined")  # a real page load, showing the server's answer
    assert page.locator("#annotator-root").count() == 0
    browser.failed_responses.clear()  # the 404 is the expected answer here
