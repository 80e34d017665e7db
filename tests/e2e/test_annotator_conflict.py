"""A save rejected for a stale version (HTTP 409) in real Chromium: someone else edits the same
annotation through the API, the page's next save conflicts, the banner says so, and "Reload and
reapply my change" saves the user's edit over the new version (nothing lost)."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from annotator.models import Annotation
from tests.e2e.test_annotator_click_to_segment import (  # noqa: F401 (fixtures)
    open_annotator,
    shapes_image,
    to_screen,
    wait_saved,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SQUARE = [(60, 60), (160, 60), (160, 140), (60, 140)]
THEIRS = [[[20.0, 20.0, 120.0, 20.0, 120.0, 100.0, 20.0, 100.0]]]


def flat(points) -> list[float]:
    return [c for point in points for c in point]


def test_stale_save_shows_conflict_and_reapply_keeps_my_edit(browser, live_server, shapes_image):
    page = open_annotator(browser, live_server, shapes_image)
    box = page.locator("#canvas").bounding_box()
    tolerance = 0.75 / min(box["width"] / shapes_image.width, box["height"] / shapes_image.height)
    page.keyboard.press("p")
    for x, y in SQUARE:
        page.mouse.click(*to_screen(page, shapes_image, x, y))
    page.mouse.click(*to_screen(page, shapes_image, *SQUARE[0]))
    wait_saved(page, 1)
    annotation = Annotation.objects.get(image=shapes_image)
    assert annotation.version == 1

    # Another labeler of the project changes the same annotation through the API (version 1 -> 2).
    other = APIClient()
    other.force_authenticate(get_user_model().objects.get(username="annotator1"))
    response = other.patch(f"/api/annotations/{annotation.pk}/", {"version": 1, "polygons": THEIRS}, format="json")
    assert response.status_code == 200, response.content
    assert Annotation.objects.get(pk=annotation.pk).version == 2

    # The stale page drags a vertex: its save carries version 1 and is rejected.
    page.keyboard.press("v")
    page.mouse.click(*to_screen(page, shapes_image, 110, 100))
    page.wait_for_function("document.getElementById('annotator-root').dataset.selected !== ''")
    page.mouse.move(*to_screen(page, shapes_image, 160, 140))
    page.mouse.down()
    page.mouse.move(*to_screen(page, shapes_image, 200, 170), steps=6)
    page.mouse.up()
    page.wait_for_selector("#conflict-banner:not([hidden])")
    message = page.locator("#conflict-banner .message").inner_text()
    assert f"#{annotation.pk}" in message and "version 2" in message
    assert page.locator("#annotator-root").get_attribute("data-save-state") == "conflict"
    stored = Annotation.objects.get(pk=annotation.pk)
    assert stored.version == 2 and stored.polygons == THEIRS  # nothing overwritten yet

    # Reload and reapply: the user's edit is saved over version 2.
    page.click("#conflict-reload")
    page.wait_for_selector("#conflict-banner", state="hidden")
    page.wait_for_function(
        "() => { const d = document.getElementById('annotator-root').dataset; return d.saveState === 'saved'; }"
    )
    stored = Annotation.objects.get(pk=annotation.pk)
    assert stored.version == 3
    moved = [(60, 60), (160, 60), (200, 170), (60, 140)]
    assert len(stored.polygons) == 1 and len(stored.polygons[0]) == 1
    assert stored.polygons[0][0] == pytest.approx(flat(moved), abs=tolerance)
    assert Annotation.objects.filter(image=shapes_image).count() == 1
    assert page.locator("#error-banner").is_hidden()
    assert browser.failed_responses == [f"409 {live_server.url}/api/annotations/{annotation.pk}/"]
