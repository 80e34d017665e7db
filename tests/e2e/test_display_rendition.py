"""A very large image is drawn from its display rendition, stretched to full-image coordinates."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.files.storage import default_storage
from PIL import Image as PILImage

from tests.e2e.test_annotator_click_to_segment import open_annotator, shapes_image, to_screen  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CANVAS_PIXEL = """([x, y]) => {
  const canvas = document.getElementById('canvas');
  const rect = canvas.getBoundingClientRect();
  const scale = canvas.width / rect.width;
  const d = canvas.getContext('2d').getImageData(Math.round((x - rect.left) * scale), Math.round((y - rect.top) * scale), 1, 1).data;
  return [d[0], d[1], d[2]];
}"""


def test_large_image_is_drawn_from_a_stretched_rendition(browser, live_server, shapes_image, settings):
    settings.ANNOTATOR_DISPLAY_MAX_SIDE = 256  # the 480x360 demo image counts as "very large" here
    requested: list[str] = []
    browser.page.on("request", lambda r: requested.append(r.url) if "/file/" in r.url else None)
    page = open_annotator(browser, live_server, shapes_image)
    page.wait_for_function("document.getElementById('annotator-root').dataset.imageLoaded === 'true'")
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => requestAnimationFrame(done)))")
    assert any("max_side=256" in url for url in requested), requested

    with default_storage.open(shapes_image.display.name, "rb") as handle:
        full = PILImage.open(handle).convert("RGB")
    # What the rendition looks like once stretched back: downscale to 256 then upscale.
    seen = np.asarray(
        full.resize((256, 192), PILImage.Resampling.LANCZOS).resize(full.size, PILImage.Resampling.BILINEAR), np.int16
    )
    diffs = []
    for y in range(20, shapes_image.height - 20, 40):
        for x in range(20, shapes_image.width - 20, 40):
            got = np.array(page.evaluate(CANVAS_PIXEL, list(to_screen(page, shapes_image, x, y))), np.int16)
            diffs.append(np.abs(got - seen[y, x]).mean())
    # Unstretched, everything right of x=256 or below y=192 would be empty canvas.
    assert np.mean(diffs) < 20, diffs
