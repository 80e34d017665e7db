"""Polygon fallback in real Chromium: draw, select, drag/insert/delete vertices, change class,
delete, undo/redo (every edit saved), and everything still there after a reload."""

from __future__ import annotations

import pytest

from annotator.models import Annotation
from tests.e2e.test_annotator_click_to_segment import (  # noqa: F401 (fixtures)
    open_annotator,
    shapes_image,
    to_screen,
    wait_saved,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SQUARE = [(60, 60), (160, 60), (160, 140), (60, 140)]


def saved_ring(image) -> list[float]:
    annotation = Annotation.objects.get(image=image)
    assert len(annotation.polygons) == 1 and len(annotation.polygons[0]) == 1  # one part, no hole
    return annotation.polygons[0][0]


def flat(points) -> list[float]:
    return [c for point in points for c in point]


def wait_version(image, version: int, page) -> None:
    page.wait_for_function("document.getElementById('annotator-root').dataset.saveState === 'saved'")
    assert Annotation.objects.get(image=image).version == version


def test_draw_edit_undo_redo_delete_and_reload(browser, live_server, shapes_image):
    page = open_annotator(browser, live_server, shapes_image)
    box = page.locator("#canvas").bounding_box()
    zoom = min(box["width"] / shapes_image.width, box["height"] / shapes_image.height)
    tolerance = 0.75 / zoom  # half a screen pixel, in image pixels

    page.keyboard.press("p")
    for x, y in SQUARE:
        page.mouse.click(*to_screen(page, shapes_image, x, y))
    page.mouse.click(*to_screen(page, shapes_image, *SQUARE[0]))  # click the first vertex: close
    wait_saved(page, 1)
    annotation = Annotation.objects.get(image=shapes_image)
    assert annotation.source == "manual"
    assert annotation.label_class.name == "object"  # label class 1
    assert saved_ring(shapes_image) == pytest.approx(flat(SQUARE), abs=tolerance)
    assert annotation.area == pytest.approx(100 * 80, rel=0.05)

    # Select it and drag the third vertex.
    page.keyboard.press("v")
    page.mouse.click(*to_screen(page, shapes_image, 110, 100))
    page.wait_for_function("document.getElementById('annotator-root').dataset.selected !== ''")
    page.mouse.move(*to_screen(page, shapes_image, 160, 140))
    page.mouse.down()
    page.mouse.move(*to_screen(page, shapes_image, 180, 160), steps=4)
    page.mouse.move(*to_screen(page, shapes_image, 200, 170), steps=4)
    page.mouse.up()
    wait_version(shapes_image, 2, page)
    moved = [(60, 60), (160, 60), (200, 170), (60, 140)]
    assert saved_ring(shapes_image) == pytest.approx(flat(moved), abs=tolerance)

    # Undo saves the previous shape; redo the move again.
    page.keyboard.press("Control+z")
    wait_version(shapes_image, 3, page)
    assert saved_ring(shapes_image) == pytest.approx(flat(SQUARE), abs=tolerance)
    page.keyboard.press("Control+Shift+z")
    wait_version(shapes_image, 4, page)
    assert saved_ring(shapes_image) == pytest.approx(flat(moved), abs=tolerance)

    # Insert a vertex by clicking the top edge, then delete it with Alt+click.
    page.mouse.click(*to_screen(page, shapes_image, 110, 60))
    wait_version(shapes_image, 5, page)
    assert saved_ring(shapes_image) == pytest.approx(flat([(60, 60), (110, 60), *moved[1:]]), abs=tolerance)
    page.keyboard.down("Alt")
    page.mouse.click(*to_screen(page, shapes_image, 110, 60))
    page.keyboard.up("Alt")
    wait_version(shapes_image, 6, page)
    assert saved_ring(shapes_image) == pytest.approx(flat(moved), abs=tolerance)

    # Number key 2 changes the selected annotation's class.
    page.keyboard.press("2")
    wait_version(shapes_image, 7, page)
    assert Annotation.objects.get(image=shapes_image).label_class.name == "person"

    # Delete, then undo the delete: saved again.
    page.keyboard.press("Delete")
    wait_saved(page, 0)
    assert Annotation.objects.filter(image=shapes_image).count() == 0
    page.keyboard.press("Control+z")
    wait_saved(page, 1)
    restored = Annotation.objects.get(image=shapes_image)
    assert restored.label_class.name == "person"
    assert saved_ring(shapes_image) == pytest.approx(flat(moved), abs=tolerance)

    # Reload: the page shows exactly what the server holds.
    page.reload()
    page.wait_for_selector("#annotator-root[data-annotations-loaded=true]")
    assert page.locator("#annotator-root").get_attribute("data-annotation-count") == "1"
    assert "person" in page.locator("#annotation-list").inner_text()
    assert f"#{restored.pk}" in page.locator("#annotation-list").inner_text()
    assert browser.failed_responses == []


def test_help_overlay_lists_shortcuts_and_escape_cancels_a_polygon(browser, live_server, shapes_image):
    page = open_annotator(browser, live_server, shapes_image)
    page.keyboard.press("?")
    overlay = page.locator("#help-overlay")
    assert overlay.is_visible()
    for shortcut in ("Tab", "Enter", "Esc", "Ctrl+Z", "Space+drag", "Alt+click"):
        assert shortcut in overlay.inner_text()
    page.keyboard.press("?")
    assert overlay.is_hidden()

    page.keyboard.press("p")
    for x, y in SQUARE[:3]:
        page.mouse.click(*to_screen(page, shapes_image, x, y))
    page.keyboard.press("Escape")
    page.keyboard.press("Enter")  # nothing left to close
    page.wait_for_timeout(600)  # longer than the autosave delay
    assert Annotation.objects.filter(image=shapes_image).count() == 0
