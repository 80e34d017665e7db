"""A manager exports from the project page (COCO with RLE masks, then YOLO), watches the row progress
and downloads the files; a real Celery worker (subprocess, Redis, the test database) writes them.
An annotator never sees the export card."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from annotator import geometry
from annotator.models import AnnotationStatus, Export, ExportStatus, Role
from tests.celery_worker import run_worker, use_broker
from tests.e2e.conftest import BrowserSession, log_in
from tests.factories import PASSWORD, make_annotation, make_image, make_label_class, make_project, make_user

pytestmark = [pytest.mark.browser, pytest.mark.integration, pytest.mark.slow]
# A Redis database of its own (the engine's worker test uses 13), so parallel suites share no queue.
BROKER_URL = os.environ.get("E2E_TEST_BROKER_URL", "redis://127.0.0.1:6379/12")

# Records every text the export list shows, from before the click on, so short-lived states
# ("queued", "running") are seen even when the worker finishes within one poll.
RECORD_EXPORT_ROWS = """() => {
  window.__exportRowsSeen = [];
  const list = document.getElementById("export-list");
  new MutationObserver(() => {
    for (const item of list.querySelectorAll("li")) window.__exportRowsSeen.push(item.textContent);
  }).observe(list, {childList: true, characterData: true, subtree: true});
}"""


@pytest.fixture
def export_broker(monkeypatch):
    """Point this process's Celery app (used by the live server's thread) at an emptied Redis database."""
    with use_broker(monkeypatch, BROKER_URL) as url:
        yield url


@pytest.fixture
def export_worker(export_broker, transactional_db, tmp_path):
    """A Celery worker on the "default" queue (where export_run goes), started and waited for."""
    with run_worker(
        broker_url=export_broker, queues="default", name="e2e-export", log_path=tmp_path / "worker.log"
    ) as started:
        yield started


def two_part_mask(width: int, height: int) -> np.ndarray:
    """A ring (square with a hole) plus a separate blob: only RLE keeps it exactly."""
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[3:19, 4:20] = 1
    mask[8:14, 9:15] = 0
    mask[22:27, 28:38] = 1
    return mask


@pytest.fixture
def export_project(transactional_db):
    manager = make_user("exporter", password=PASSWORD)
    annotator = make_user("drawer", password=PASSWORD)
    project = make_project("Export demo", members={manager: Role.MANAGER, annotator: Role.ANNOTATOR})
    cell = make_label_class(project, "cell", color="#ff0000", order=0)
    nucleus = make_label_class(project, "nucleus", color="#00ff00", order=1)
    first = make_image(project, width=48, height=32, name="slide-a.png")
    second = make_image(project, width=40, height=30, name="slide-b.png")
    approved = AnnotationStatus.APPROVED
    annotations = [
        make_annotation(
            first,
            label_class=cell,
            author=annotator,
            status=approved,
            polygons=[[[2.0, 3.0, 30.5, 4.0, 25.0, 20.0, 6.0, 18.5]]],
        ),
        make_annotation(
            first,
            label_class=nucleus,
            author=annotator,
            status=approved,
            polygons=geometry.mask_to_polygons(two_part_mask(48, 32)),
        ),
        make_annotation(
            second, label_class=cell, author=annotator, status=approved, polygons=[[[1.0, 1.0, 35.0, 2.0, 10.0, 28.0]]]
        ),
    ]
    # A draft must stay out of the default (approved only) export.
    draft = make_annotation(
        second,
        label_class=nucleus,
        author=annotator,
        status=AnnotationStatus.DRAFT,
        polygons=[[[20.0, 10.0, 30.0, 10.0, 30.0, 20.0, 20.0, 20.0]]],
    )
    return {"project": project, "approved": annotations, "draft": draft, "images": [first, second]}


def start_export(browser: BrowserSession, format_label: str) -> int:
    """Pick the options as a person would, press Start, and return the new export's id from its row."""
    page = browser.page
    page.select_option("#export-form select[name=format]", label=format_label)
    page.select_option("#export-form select[name=segmentation]", label="RLE (exact)")
    page.select_option("#export-form select[name=statuses]", label="Approved only")
    before = page.locator("#export-list li").count()
    page.get_by_role("button", name="Start export").click()
    page.wait_for_function(f"document.querySelectorAll('#export-list li').length > {before}")
    row_text = page.locator("#export-list li").first.inner_text()
    return int(row_text.split()[0].lstrip("#"))


def download_when_done(browser: BrowserSession, export_id: int, worker_log: Path) -> tuple[bytes, str]:
    page = browser.page
    row = page.locator("#export-list li", has_text=f"#{export_id} ")
    link = row.get_by_role("link", name="Download")
    try:
        link.wait_for(timeout=60_000)
    except Exception as exc:
        raise AssertionError(
            f"export {export_id} never finished: {row.inner_text()!r}; worker log:\n{worker_log.read_text()[-4000:]}"
        ) from exc
    assert "— done" in row.inner_text()
    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.failure() is None
    return Path(download.path()).read_bytes(), download.suggested_filename


def seen_rows(browser: BrowserSession, export_id: int) -> list[str]:
    return [text for text in browser.page.evaluate("window.__exportRowsSeen") if text.startswith(f"#{export_id} ")]


def test_manager_exports_coco_and_yolo_and_downloads_them(
    browser, live_server, export_worker, export_project, tmp_path
):
    from pycocotools.coco import COCO

    _, worker_log = export_worker
    project = export_project["project"]
    page = browser.page
    log_in(browser, live_server, "exporter", PASSWORD)
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    page.locator("#exports").wait_for()
    assert page.get_by_role("heading", name="Export", exact=True).is_visible()  # what annotators must not see
    page.evaluate(RECORD_EXPORT_ROWS)

    coco_id = start_export(browser, "COCO instances (JSON)")
    coco_bytes, coco_name = download_when_done(browser, coco_id, worker_log)
    # The row went from queued (the POST's answer, with a progress bar) to done, as the person saw it.
    states = seen_rows(browser, coco_id)
    assert any("(rle) — queued" in text or "(rle) — running" in text for text in states), states
    assert states[-1].startswith(f"#{coco_id} coco (rle) — done")
    assert coco_name.endswith(f"-coco-{coco_id}.json")

    path = tmp_path / "downloaded-coco.json"
    path.write_bytes(coco_bytes)
    coco = COCO(str(path))
    approved = {annotation.pk: annotation for annotation in export_project["approved"]}
    assert set(coco.getAnnIds()) == set(approved)  # the draft is left out
    assert {image["file_name"] for image in coco.loadImgs(coco.getImgIds())} == {"slide-a.png", "slide-b.png"}
    for annotation_id, annotation in approved.items():
        entry = coco.loadAnns([annotation_id])[0]
        assert isinstance(entry["segmentation"], dict)  # RLE, as chosen in the form
        exported = coco.annToMask(entry)
        stored = geometry.rle_decode(annotation.rle)
        assert exported.shape == (annotation.image.height, annotation.image.width)
        assert np.array_equal(exported, stored), f"annotation {annotation_id} differs"
    # The ring's hole survives (RLE), which polygons could not keep.
    ring = coco.annToMask(coco.loadAnns([export_project["approved"][1].pk])[0])
    assert ring[10, 11] == 0 and ring[5, 5] == 1 and ring[24, 30] == 1

    yolo_id = start_export(browser, "YOLO segmentation (zip)")
    yolo_bytes, yolo_name = download_when_done(browser, yolo_id, worker_log)
    assert yolo_name.endswith(f"-yolo-{yolo_id}.zip")
    # YOLO has no RLE: its row names no mask encoding (the form's RLE choice applies to COCO only).
    assert seen_rows(browser, yolo_id)[-1].startswith(f"#{yolo_id} yolo — done")
    with zipfile.ZipFile(io.BytesIO(yolo_bytes)) as archive:
        names = set(archive.namelist())
        assert "data.yaml" in names
        assert "cell" in archive.read("data.yaml").decode() and "nucleus" in archive.read("data.yaml").decode()
        label_files = sorted(name for name in names if name.endswith(".txt"))
        assert len(label_files) == 2
        lines = [line for name in label_files for line in archive.read(name).decode().splitlines() if line]
        images = sorted(name for name in names if name.startswith("images/"))
        assert len(images) == 2
    # One line per approved annotation part at least (the ring's blob may add a line), none for the draft.
    assert len(lines) >= len(approved)
    assert Export.objects.filter(project=project, status=ExportStatus.DONE).count() == 2
    assert browser.failed_responses == []


def test_annotator_does_not_see_the_export_card(browser, live_server, export_project):
    project = export_project["project"]
    page = browser.page
    log_in(browser, live_server, "drawer", PASSWORD)
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    page.locator("h1").wait_for()
    assert page.locator("h1").inner_text() == project.name
    assert page.locator("#exports").count() == 0
    assert page.get_by_role("button", name="Start export").count() == 0
    assert page.get_by_role("heading", name="Export", exact=True).count() == 0
    # Nor can the API be used around the page: the same session gets 403 from the export list.
    status = page.evaluate(
        "url => fetch(url, {credentials: 'same-origin'}).then(r => r.status)", f"/api/projects/{project.pk}/exports/"
    )
    assert status == 403
    assert Export.objects.count() == 0
