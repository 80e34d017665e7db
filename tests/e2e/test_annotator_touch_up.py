"""Touch-up tools and honest metrics in real Chromium: a hand-drawn polygon is saved with its time
from the first vertex and its vertex count (it was 0 ms and 0 clicks); the brush grows the selected
mask and the eraser cuts it (saved as the RLE of record, pixel-exact, undo saved too); the box tool
saves a plain bounding box."""

from __future__ import annotations

import numpy as np
import pytest

from annotator import geometry
from annotator.models import Annotation
from tests.e2e.test_annotator_click_to_segment import (  # noqa: F401 (fixtures)
    open_annotator,
    shapes_image,
    to_screen,
    wait_saved,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SQUARE = [(60, 60), (160, 60), (160, 140), (60, 140)]


def wait_version(image, version: int, page) -> Annotation:
    page.wait_for_function(
        "([v]) => document.getElementById('annotator-root').dataset.saveState === 'saved'", arg=[version]
    )
    for _ in range(100):
        annotation = Annotation.objects.filter(image=image).order_by("id").first()
        if annotation is not None and annotation.version == version:
            return annotation
        page.wait_for_timeout(50)
    raise AssertionError(f"version {version} not saved")


def test_polygon_metrics_brush_eraser_and_box(browser, live_server, shapes_image):
    page = open_annotator(browser, live_server, shapes_image)

    # A hand-drawn polygon: 4 vertices about 300 ms apart, closed on the first one.
    page.keyboard.press("p")
    for x, y in SQUARE:
        page.mouse.click(*to_screen(page, shapes_image, x, y))
        page.wait_for_timeout(300)
    page.mouse.click(*to_screen(page, shapes_image, *SQUARE[0]))
    wait_saved(page, 1)
    drawn = Annotation.objects.get(image=shapes_image)
    assert drawn.vertex_count == 4
    assert 900 <= drawn.time_spent_ms < 60_000, drawn.time_spent_ms  # ≥ 3 gaps of 300 ms
    area_before = drawn.area

    # Brush: the polygon stays selected after closing; a stroke from inside to outside grows it.
    page.keyboard.press("b")
    assert page.locator("#annotator-root").get_attribute("data-tool") == "brush"
    for _ in range(2):
        page.keyboard.press("]")  # 20 → 24 → 28 px
    page.mouse.move(*to_screen(page, shapes_image, 150, 100))
    page.mouse.down()
    page.mouse.move(*to_screen(page, shapes_image, 190, 100), steps=8)
    page.mouse.up()
    brushed = wait_version(shapes_image, 2, page)
    mask = geometry.rle_decode(brushed.rle)
    assert brushed.area > area_before + 400
    assert mask[100, 185] == 1 and mask[100, 100] == 1 and mask[30, 30] == 0
    assert brushed.stroke_count == 1 and brushed.vertex_count == 4
    assert brushed.time_spent_ms >= drawn.time_spent_ms
    # The stored polygons are the RLE's own trace (the RLE is the mask of record).
    assert np.array_equal(
        geometry.polygons_to_mask(brushed.polygons, width=shapes_image.width, height=shapes_image.height), mask
    )

    # Eraser: a stroke through the middle cuts it.
    page.keyboard.press("e")
    page.mouse.move(*to_screen(page, shapes_image, 110, 50))
    page.mouse.down()
    page.mouse.move(*to_screen(page, shapes_image, 110, 150), steps=8)
    page.mouse.up()
    erased = wait_version(shapes_image, 3, page)
    assert geometry.rle_decode(erased.rle)[100, 110] == 0
    assert erased.area < brushed.area and erased.stroke_count == 2

    # Undo the eraser stroke: the brushed mask is saved again, exactly.
    page.keyboard.press("Control+z")
    undone = wait_version(shapes_image, 4, page)
    assert np.array_equal(geometry.rle_decode(undone.rle), mask)

    # Box: a drag makes a box annotation.
    page.keyboard.press("r")
    page.mouse.move(*to_screen(page, shapes_image, 250, 200))
    page.mouse.down()
    page.mouse.move(*to_screen(page, shapes_image, 330, 260), steps=6)
    page.mouse.up()
    wait_saved(page, 2)
    box = Annotation.objects.get(image=shapes_image, kind="box")
    assert box.bbox == pytest.approx([250, 200, 80, 60], abs=1.0)
    assert box.click_count == 1 and box.time_spent_ms > 0
    assert browser.failed_responses == []
