"""The annotator's layout and keyboard (issue 13 item 2), in real headless Chromium: the canvas never
moves when a mask or a status appears, fits the viewport from 1280×720 up and uses the width at
1920; a digit after Enter relabels the accepted object; shortcuts work after a slider or the label
select; Esc and a click outside close the help; hidden objects are not drawn, locked ones cannot be
selected. Screenshots of the layout go to docs/ (ANNOTATOR_SCREENSHOTS=1)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from annotator.models import Annotation
from tests.e2e.test_annotator_click_to_segment import (  # noqa: F401 (fixtures)
    click_image,
    draw_polygon,
    mask_area,
    open_annotator,
    shapes_image,
    to_screen,
    wait_saved,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

INSIDE = (250, 180)  # inside the pentagon of the demo "shapes" image
DOCS = Path(__file__).resolve().parents[2] / "docs"


def canvas_box(page) -> dict:
    return page.locator("#canvas").bounding_box()


def root_data(page, name: str) -> str:
    return page.locator("#annotator-root").get_attribute(f"data-{name}") or ""


def settle(page) -> None:
    """Two animation frames: a resize or a status change has been laid out and drawn."""
    page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")


def test_canvas_does_not_move_when_a_mask_appears_or_is_accepted(browser, live_server, shapes_image):
    page = open_annotator(browser, live_server, shapes_image)
    page.set_viewport_size({"width": 1280, "height": 720})
    settle(page)
    before = canvas_box(page)
    click_image(page, shapes_image, *INSIDE)
    assert mask_area(page) > 1000
    settle(page)
    assert page.locator("#candidate-status").inner_text() != ""  # the status text is there...
    assert canvas_box(page) == before  # ...and the canvas stayed where it was
    page.keyboard.press("Enter")
    wait_saved(page, 1)
    settle(page)
    assert canvas_box(page) == before
    page.keyboard.press("Escape")
    settle(page)
    assert canvas_box(page) == before


@pytest.mark.parametrize("width,height", [(1280, 720), (1366, 768), (1400, 900), (1920, 1080)])
def test_canvas_fits_the_viewport_beside_the_panel_with_a_one_row_toolbar(
    browser, live_server, shapes_image, width, height
):
    page = open_annotator(browser, live_server, shapes_image)
    page.set_viewport_size({"width": width, "height": height})
    settle(page)
    box = canvas_box(page)
    assert box["y"] + box["height"] <= height, box  # nothing past the bottom of the screen
    assert box["x"] + box["width"] <= width, box
    assert box["height"] >= height - 170, box  # the canvas takes the height left by the bars
    bar = page.locator(".annotator-bar").bounding_box()
    assert bar["height"] <= 40, bar  # one row
    status = page.locator("#status-bar").bounding_box()
    assert status["y"] + status["height"] <= height, status
    panel = page.locator("#side-panel").bounding_box()
    assert panel["x"] >= box["x"] + box["width"] - 1  # beside the canvas, not under it
    if width == 1920:
        assert box["width"] >= 1920 - panel["width"] - 40, (box, panel)  # the width minus the panel
        page.locator("#panel-toggle").click()
        settle(page)
        assert page.locator("#side-panel").is_hidden()
        assert canvas_box(page)["width"] >= 1880  # collapsed: nearly the whole width
        page.locator("#panel-toggle").click()
        settle(page)
        assert page.locator("#side-panel").is_visible()
    if os.environ.get("ANNOTATOR_SCREENSHOTS") == "1" and (width, height) in {(1280, 720), (1920, 1080)}:
        page.keyboard.press("f")  # fit the view to the new size (to_screen assumes the fit view)
        settle(page)
        click_image(page, shapes_image, *INSIDE)
        mask_area(page)
        page.keyboard.press("Enter")
        wait_saved(page, 1)
        page.mouse.move(*to_screen(page, shapes_image, 90, 90))
        settle(page)
        page.screenshot(path=str(DOCS / f"annotator-{width}x{height}.png"))


def test_a_digit_after_enter_relabels_the_accepted_object(browser, live_server, shapes_image):
    page = open_annotator(browser, live_server, shapes_image)
    click_image(page, shapes_image, *INSIDE)
    mask_area(page)
    page.keyboard.press("Enter")
    wait_saved(page, 1)
    assert root_data(page, "selected") != ""  # the accepted object stays selected
    page.keyboard.press("2")
    page.wait_for_function(
        "() => { const d = document.getElementById('annotator-root').dataset; return d.saveState === 'saved'; }"
    )
    page.wait_for_timeout(300)
    page.wait_for_function("document.getElementById('annotator-root').dataset.saveState === 'saved'")
    annotation = Annotation.objects.get(image=shapes_image)
    assert annotation.label_class.name == "person"  # label class 2 of the demo project
    assert annotation.version == 2


def test_shortcuts_work_after_a_slider_or_the_label_select(browser, live_server, shapes_image):
    page = open_annotator(browser, live_server, shapes_image)
    page.locator("#opacity").click()  # the slider has the focus now
    page.keyboard.press("p")
    assert root_data(page, "tool") == "polygon"
    page.locator("#detail").focus()
    page.keyboard.press("v")
    assert root_data(page, "tool") == "select"
    page.locator("#label-class").select_option(index=1)
    page.keyboard.press("s")
    assert root_data(page, "tool") == "sam"
    page.locator("#show-annotations").click()
    page.keyboard.press("p")
    assert root_data(page, "tool") == "polygon"
    # Typing into a text field still types (the review comment box is the page's text field).
    page.evaluate("() => { const i = document.createElement('input'); i.id = 'typing'; document.body.append(i); }")
    page.locator("#typing").fill("")
    page.locator("#typing").press("v")
    assert root_data(page, "tool") == "polygon"
    assert page.locator("#typing").input_value() == "v"


def test_escape_and_a_click_outside_close_the_help(browser, live_server, shapes_image):
    page = open_annotator(browser, live_server, shapes_image)
    help_overlay = page.locator("#help-overlay")
    page.keyboard.press("?")
    assert help_overlay.is_visible()
    page.keyboard.press("Escape")
    assert help_overlay.is_hidden()
    page.locator("#help-button").click()
    assert help_overlay.is_visible()
    box = canvas_box(page)
    page.mouse.click(box["x"] + 30, box["y"] + box["height"] / 2)  # on the canvas, left of the help
    assert help_overlay.is_hidden()
    page.wait_for_timeout(500)
    assert root_data(page, "mask-area") == ""  # the closing click added no SAM point
    page.keyboard.press("?")
    help_overlay.click()  # a click inside keeps it open
    assert help_overlay.is_visible()


def test_hidden_objects_are_not_drawn_and_locked_ones_cannot_be_selected(browser, live_server, shapes_image):
    page = open_annotator(browser, live_server, shapes_image)
    first = [(20, 20), (90, 20), (90, 90), (20, 90)]
    draw_polygon(page, shapes_image, first)
    wait_saved(page, 1)
    page.keyboard.press("Escape")
    settle(page)
    pixel = "([x, y]) => Array.from(document.getElementById('canvas').getContext('2d').getImageData(x, y, 1, 1).data)"
    box = canvas_box(page)
    sx, sy = to_screen(page, shapes_image, 55, 55)
    at = [round(sx - box["x"]), round(sy - box["y"])]
    drawn = page.evaluate(pixel, at)
    item = page.locator("#annotation-list li.annotation-item").first
    item.locator("button.toggle-hidden").click()
    settle(page)
    hidden = page.evaluate(pixel, at)
    assert hidden != drawn, (hidden, drawn)  # the fill is gone
    item = page.locator("#annotation-list li.annotation-item").first
    item.locator("button.toggle-hidden").click()
    settle(page)
    assert page.evaluate(pixel, at) == drawn

    # Locked: neither a canvas click nor the list selects it; digits and Delete leave it alone.
    page.locator("#annotation-list li.annotation-item").first.locator("button.toggle-locked").click()
    page.keyboard.press("v")
    page.mouse.click(sx, sy)
    assert root_data(page, "selected") == ""
    page.locator("#annotation-list li.annotation-item .annotation-head").first.click()
    assert root_data(page, "selected") == ""
    page.keyboard.press("Delete")
    page.keyboard.press("2")
    page.wait_for_timeout(300)
    assert Annotation.objects.get(image=shapes_image).label_class.name == "object"
    # Unlocked again: selectable.
    page.locator("#annotation-list li.annotation-item").first.locator("button.toggle-locked").click()
    page.mouse.click(sx, sy)
    assert root_data(page, "selected") != ""
