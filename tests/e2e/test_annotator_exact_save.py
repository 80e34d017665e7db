"""Enter commits the mask of the latest prompt set (issue 13, item 1), in real headless Chromium:
click, click, Enter at once stores the two-click mask (not the first click's under two prompts), and
an Enter pressed before the first mask appears still saves that object."""

from __future__ import annotations

import numpy as np
import pytest

from annotator import geometry
from annotator.management.commands.seed_demo import SHAPES_IMAGE, demo_shapes_scene
from annotator.models import Annotation
from tests.e2e.test_annotator_click_to_segment import click_image, iou, open_annotator, wait_saved

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

INSIDE = (250, 180)  # inside the pentagon
BAR = (400, 180)  # the bar sticking out of it: a negative click there removes it


@pytest.fixture
def shapes_image(demo_project):
    """The synthetic image, with its embedding computed in-process (as test_annotator_click_to_segment)."""
    from annotator.selectors_embeddings import project_model
    from segmentation.models import Embedding
    from segmentation.services.embeddings import embedding_compute

    image = demo_project.images.get(original_name=f"{SHAPES_IMAGE}.png")
    model = project_model(demo_project)
    embedding = Embedding.objects.get(image_sha256=image.sha256, model_sha256=model.checkpoint_sha256)
    embedding_compute(embedding.pk)
    return image


def stored_masks(image) -> list[np.ndarray]:
    return [
        geometry.polygons_to_mask(a.polygons, width=image.width, height=image.height)
        for a in Annotation.objects.filter(image=image).order_by("pk")
    ]


def wait_landed(page) -> None:
    """The mask of the latest click is shown (no decode in flight)."""
    page.wait_for_function(
        "() => { const d = document.getElementById('annotator-root').dataset;"
        " return d.samDecoding === 'false' && d.maskArea !== ''; }"
    )


def test_click_click_enter_at_once_stores_the_mask_of_both_clicks(browser, live_server, shapes_image):
    page = open_annotator(browser, live_server, shapes_image)

    # Quick: the second click and Enter arrive while the decodes are still running.
    click_image(page, shapes_image, *INSIDE)
    click_image(page, shapes_image, *BAR, button="right")
    page.keyboard.press("Enter")
    wait_saved(page, 1)

    # The same prompts slowly, each mask landed before the next step (the expected mask).
    click_image(page, shapes_image, *INSIDE)
    wait_landed(page)
    click_image(page, shapes_image, *BAR, button="right")
    wait_landed(page)
    page.keyboard.press("Enter")
    wait_saved(page, 2)

    # The first click alone (what the quick Enter used to store under two prompts).
    click_image(page, shapes_image, *INSIDE)
    wait_landed(page)
    page.keyboard.press("Enter")
    wait_saved(page, 3)

    quick, slow, first_only = stored_masks(shapes_image)
    assert iou(slow, first_only) < 0.97, "the second click must change the mask for this test to mean anything"
    assert iou(quick, slow) >= 0.99, (iou(quick, slow), iou(quick, first_only))
    quick_row, slow_row, _ = Annotation.objects.filter(image=shapes_image).order_by("pk")
    assert quick_row.click_count == slow_row.click_count == 2
    assert len(quick_row.prompts["points"]) == 2 and quick_row.prompts["points"][1][2] == 0
    assert quick_row.prompts["mask_index"] == slow_row.prompts["mask_index"]
    assert quick_row.prompts["predicted_iou"] == slow_row.prompts["predicted_iou"]
    assert browser.failed_responses == []


def test_enter_before_the_first_mask_appears_still_saves_the_object(browser, live_server, shapes_image):
    page = open_annotator(browser, live_server, shapes_image)
    _, truth = demo_shapes_scene()

    # Enter right after the click: the first mask has not appeared yet.
    click_image(page, shapes_image, *INSIDE)
    page.keyboard.press("Enter")
    wait_saved(page, 1)

    annotation = Annotation.objects.get(image=shapes_image)
    assert annotation.click_count == 1
    assert len(annotation.prompts["points"]) == 1
    (saved,) = stored_masks(shapes_image)
    assert iou(saved, truth) >= 0.85, iou(saved, truth)
    assert browser.failed_responses == []
