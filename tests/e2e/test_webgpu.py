"""WebGPU when the browser has an adapter, wasm otherwise (frontend/src/sam/backend.ts).

Headless Chromium has no GPU here; `--enable-unsafe-webgpu --use-webgpu-adapter=swiftshader` gives it
a software WebGPU adapter (isFallbackAdapter). The page must not use that one on its own (a decoder run
takes ~50 s on it against < 0.1 s on wasm), but `?gpu=force` drives the real WebGPU code path end to
end: the webgpu bundle and its asyncify runtime are fetched from our server, the fp32 graph runs on
the WebGPU execution provider, and a click gives the object's mask.
"""

from __future__ import annotations

import pytest

from annotator import geometry
from annotator.management.commands.seed_demo import DEMO_PASSWORD, demo_shapes_scene
from annotator.models import Annotation
from tests.e2e.conftest import log_in
from tests.e2e.test_annotator_click_to_segment import click_image, iou, shapes_image, wait_saved  # noqa: F401

SOFTWARE_WEBGPU = ("--enable-unsafe-webgpu", "--use-webgpu-adapter=swiftshader")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.chromium_args(*SOFTWARE_WEBGPU),
]
GPU_FILES = ("ort.webgpu.min.mjs", "asyncify")


def open_page(browser, live_server, image, query: str, ready_ms: int):
    page = browser.page
    page.set_viewport_size({"width": 1280, "height": 860})
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    log_in(browser, live_server, "annotator1", DEMO_PASSWORD)
    page.goto(f"{live_server.url}/images/{image.pk}/annotate/{query}")
    page.wait_for_selector("#annotator-root[data-decoder=ready]", timeout=ready_ms)
    return page, requested


def test_a_software_adapter_is_not_used_unless_forced(browser, live_server, shapes_image):
    page, requested = open_page(browser, live_server, shapes_image, "", 60_000)
    assert page.evaluate("navigator.gpu.requestAdapter().then((a) => a !== null && a.info.isFallbackAdapter)")
    status = page.locator("#decoder-status").inner_text()
    assert "wasm" in status and "int8" in status
    assert not [url for url in requested if any(name in url for name in GPU_FILES)]


def test_forced_webgpu_segments_a_click(browser, live_server, shapes_image):
    # Software WebGPU on 2 shared cores: ~50 s per decoder run (warm-up, hover preview, click).
    page, requested = open_page(browser, live_server, shapes_image, "?gpu=force", 240_000)
    status = page.locator("#decoder-status").inner_text()
    assert "webgpu" in status and "fp32" in status, status
    assert any("ort-wasm-simd-threaded.asyncify.wasm" in url for url in requested)
    assert not any(url.endswith("/ort-wasm-simd-threaded.wasm") for url in requested)

    click_image(page, shapes_image, 250, 180)
    page.wait_for_function("document.getElementById('annotator-root').dataset.maskArea > 1000", timeout=300_000)
    page.keyboard.press("Enter")
    wait_saved(page, 1)
    _, truth = demo_shapes_scene()
    annotation = Annotation.objects.get(image=shapes_image)
    saved = geometry.polygons_to_mask(annotation.polygons, width=shapes_image.width, height=shapes_image.height)
    assert iou(saved, truth) >= 0.85, iou(saved, truth)
    assert browser.failed_responses == []
