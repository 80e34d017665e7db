"""A manager uploads images through the upload page (single file, several files with a bad one, a zip)
and then finds them on the project page; the progress bar and per-file results are what a person sees."""

from __future__ import annotations

import io
import re
import zipfile

import numpy as np
import pytest
from PIL import Image as PILImage

from annotator.models import Image, Role
from tests.annotator import media_samples
from tests.e2e.conftest import BrowserSession, log_in
from tests.factories import PASSWORD, make_project, make_user

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# Watches the page's status line from before the submit, so the "Uploading… N%" steps that flash by
# on a fast loopback upload are still recorded (a screenshot-style check would miss them).
RECORD_STATUS = """() => {
  window.__statusSeen = [];
  const line = document.getElementById("upload-status");
  new MutationObserver(() => window.__statusSeen.push(line.textContent))
    .observe(line, {childList: true, characterData: true, subtree: true});
}"""


def file_payload(name: str, data: bytes, mime: str) -> dict:
    return {"name": name, "mimeType": mime, "buffer": data}


def noise_png(width: int, height: int, seed: int) -> bytes:
    """Incompressible pixels, so the file is big enough (MBs) for the browser to report upload steps."""
    pixels = np.random.default_rng(seed).integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    PILImage.fromarray(pixels).save(buffer, format="PNG", compress_level=0)
    return buffer.getvalue()


def zip_of(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.fixture
def manager_project(transactional_db):
    manager = make_user("uploader", password=PASSWORD)
    annotator = make_user("looker", password=PASSWORD)
    project = make_project("Upload target", members={manager: Role.MANAGER, annotator: Role.ANNOTATOR})
    return project


def open_upload_page(browser: BrowserSession, live_server, project) -> None:
    log_in(browser, live_server, "uploader", PASSWORD)
    browser.page.goto(f"{live_server.url}/projects/{project.pk}/upload/")
    browser.page.evaluate(RECORD_STATUS)


def submit_and_wait(browser: BrowserSession, files: list[dict]) -> str:
    """Choose the files, press Upload, and return the final status line once every batch answered."""
    page = browser.page
    page.set_input_files("#upload-files", files)
    page.get_by_role("button", name="Upload").click()
    page.wait_for_function("document.getElementById('upload-status').textContent.startsWith('Done')", timeout=60_000)
    assert page.locator("#upload-progress").is_visible()
    assert page.eval_on_selector("#upload-progress", "bar => bar.value") == 100
    assert page.get_by_role("button", name="Upload").is_enabled()  # ready for another round
    return page.locator("#upload-status").inner_text()


def test_single_large_file_shows_progress_and_is_accepted(browser, live_server, manager_project):
    page = browser.page
    open_upload_page(browser, live_server, manager_project)
    data = noise_png(1200, 900, seed=1)  # about 3 MB
    assert len(data) > 3_000_000

    status = submit_and_wait(browser, [file_payload("noise.png", data, "image/png")])

    assert status == "Done: 1 accepted, 0 rejected."
    assert page.locator("#upload-accepted li").all_inner_texts() == ["noise.png (1200×900)"]
    assert page.locator("#upload-rejected li").count() == 0
    seen = page.evaluate("window.__statusSeen")
    steps = [int(m.group(1)) for text in seen if (m := re.fullmatch(r"Uploading… (\d+)%", text))]
    assert steps, f"no progress step was shown: {seen}"
    assert steps == sorted(steps) and steps[0] >= 0 and steps[-1] <= 100
    image = Image.objects.get(project=manager_project)
    assert (image.original_name, image.width, image.height) == ("noise.png", 1200, 900)
    assert browser.failed_responses == []


def test_several_files_zip_and_a_bad_file_then_project_page_lists_them(browser, live_server, manager_project):
    page = browser.page
    open_upload_page(browser, live_server, manager_project)
    files = [
        file_payload("first.jpg", media_samples.jpeg(64, 48, seed=11), "image/jpeg"),
        file_payload("notes.png", b"plain text pretending to be a picture", "image/png"),
        file_payload("second.png", media_samples.png(40, 30, seed=12), "image/png"),
        file_payload(
            "batch.zip",
            zip_of(
                {
                    "scans/zipped-a.png": media_samples.png(32, 32, seed=13),
                    "scans/zipped-b.png": media_samples.png(20, 10, seed=14),
                }
            ),
            "application/zip",
        ),
    ]

    status = submit_and_wait(browser, files)

    assert status == "Done: 4 accepted, 1 rejected."
    accepted = page.locator("#upload-accepted li").all_inner_texts()
    assert sorted(accepted) == sorted(
        [
            "first.jpg (64×48)",
            "second.png (40×30)",
            # Zip members keep where they came from: archive/member path.
            "batch.zip/scans/zipped-a.png (32×32)",
            "batch.zip/scans/zipped-b.png (20×10)",
        ]
    ), accepted
    rejected = page.locator("#upload-rejected li").all_inner_texts()
    assert len(rejected) == 1
    # Readable: the file's name, then a reason in words (not a status code or a stack trace).
    name, _, reason = rejected[0].partition(": ")
    assert name == "notes.png"
    assert re.search(r"[a-z]{3,} [a-z]{3,}", reason.lower()), reason
    assert "Traceback" not in reason and "server answered" not in reason

    # The project page, reached by the page's own back link, shows the new images as tiles.
    with page.expect_navigation():
        page.get_by_role("link", name=f"← {manager_project.name}").click()
    assert re.search(rf"/projects/{manager_project.pk}/?$", page.url)
    names = page.locator(".image-grid .tile-name").all_inner_texts()
    assert sorted(names) == ["batch.zip/scans/zipped-a.png", "batch.zip/scans/zipped-b.png", "first.jpg", "second.png"]
    for thumbnail in page.locator(".image-grid img").all():
        thumbnail.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle())
    assert sorted(Image.objects.filter(project=manager_project).values_list("original_name", flat=True)) == sorted(
        names
    )
    assert browser.failed_responses == []


def test_only_bad_files_are_all_reported_and_nothing_is_stored(browser, live_server, manager_project):
    page = browser.page
    open_upload_page(browser, live_server, manager_project)
    files = [file_payload("empty.png", b"", "image/png"), file_payload("junk.jpg", b"\x00" * 100, "image/jpeg")]

    # The server answers 400 ("No file was accepted"); the page still lists each file with its reason.
    status = submit_and_wait(browser, files)

    assert status == "Done: 0 accepted, 2 rejected."
    rejected = page.locator("#upload-rejected li").all_inner_texts()
    assert [text.partition(": ")[0] for text in rejected] == ["empty.png", "junk.jpg"]
    assert all(text.partition(": ")[2].strip() for text in rejected)
    assert not Image.objects.filter(project=manager_project).exists()
    assert len(browser.failed_responses) == 1 and browser.failed_responses[0].startswith("400 ")
