"""The project page keeps its counts live: embedding counts follow the worker without a reload, an
export started elsewhere appears in the Export card, and tiles show each image's review status.
(The page's scripts are the typed Vite entries frontend/src/pages/projectPage.ts.)"""

from __future__ import annotations

import pytest

from annotator.models import Export, ExportStatus, ImageReviewStatus, Role
from segmentation.models import Embedding
from tests.e2e.conftest import BrowserSession, log_in
from tests.factories import PASSWORD, make_image, make_project, make_user

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def live_project(transactional_db):
    manager = make_user("livemanager", password=PASSWORD)
    project = make_project("Live counts", members={manager: Role.MANAGER})
    images = [make_image(project, name=f"live-{i}.png", embedding_status="pending") for i in range(3)]
    images[1].review_status = ImageReviewStatus.SUBMITTED
    images[1].save(update_fields=["review_status"])
    return {"project": project, "images": images}


def count_text(page, status: str) -> str:
    return page.locator(f'[data-embedding-count="{status}"]').inner_text()


def test_counts_change_while_the_page_stays_open(browser: BrowserSession, live_server, live_project):
    page = browser.page
    project, images = live_project["project"], live_project["images"]
    log_in(browser, live_server, "livemanager", PASSWORD)
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    page.evaluate("() => { window.__samePage = true; }")
    assert count_text(page, "pending") == "pending 3" and count_text(page, "ready") == "ready 0"
    # Review status on every tile.
    tiles = {
        int(tile.get_attribute("data-image-id")): tile.locator("[data-review-status]").get_attribute(
            "data-review-status"
        )
        for tile in page.locator("li.tile").all()
    }
    assert tiles == {images[0].pk: "new", images[1].pk: "submitted", images[2].pk: "new"}
    assert page.locator(f'li.tile[data-image-id="{images[1].pk}"] .review').inner_text() == "Submitted"

    # The worker finishes two embeddings; an export is recorded by someone else.
    Embedding.objects.filter(image_sha256__in=[images[0].sha256, images[1].sha256]).update(status="ready")
    Export.objects.create(project=project, format="coco", status=ExportStatus.RUNNING, options={"segmentation": "rle"})
    page.wait_for_function(
        "() => document.querySelector('[data-embedding-count=\"ready\"]').textContent === 'ready 2'", timeout=15_000
    )
    assert count_text(page, "pending") == "pending 1"
    assert page.evaluate("() => document.querySelector('.summary .bar-fill').style.width") == "67%"
    page.wait_for_function("() => document.querySelectorAll('#export-list li').length === 1", timeout=15_000)
    assert "coco (rle) — running" in page.locator("#export-list li").inner_text()
    assert page.evaluate("() => window.__samePage === true")  # no reload happened
    assert browser.failed_responses == []
