"""Review inside the annotator page, in real headless Chromium with the real decoder: the annotator
draws a SAM and a polygon annotation and submits from the page; the reviewer sees the origin of each,
rejects the polygon with a comment and the image with another; the annotator reopens the page, reads
both comments, drags a vertex and resubmits; the reviewer reopens the SAM session of the SAM
annotation, adds a negative click, accepts (same annotation, new geometry, version bumped) and
approves all. The database is checked after every step."""

from __future__ import annotations

import pytest

from annotator.management.commands.seed_demo import DEMO_PASSWORD
from annotator.models import Annotation, Image, StatusTransition
from tests.e2e.conftest import BrowserSession, log_in
from tests.e2e.test_annotator_click_to_segment import (  # noqa: F401 (fixture)
    DECODER_READY_MS,
    click_image,
    mask_area,
    open_annotator,
    shapes_image,
    to_screen,
    wait_saved,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

SQUARE = [(60, 60), (160, 60), (160, 140), (60, 140)]
ROOT = "document.getElementById('annotator-root').dataset"


def switch_to(browser: BrowserSession, live_server, username: str, image):
    """Another person at the same machine: fresh cookies, log in, open the same annotator page."""
    page = browser.page
    page.wait_for_load_state("networkidle")
    page.goto("about:blank")
    page.context.clear_cookies()
    log_in(browser, live_server, username, DEMO_PASSWORD)
    page.goto(f"{live_server.url}/images/{image.pk}/annotate/")
    # As long as the decoder may take: on a busy 2-core machine the bundle alone can take seconds.
    page.wait_for_selector("#annotator-root[data-annotations-loaded=true]", timeout=DECODER_READY_MS)
    page.wait_for_selector("#annotator-root[data-decoder=ready]", timeout=DECODER_READY_MS)
    assert page.locator("#error-banner").is_hidden(), page.locator("#error-banner").inner_text()
    return page


def item(page, annotation_id: int):
    return page.locator(f"#annotation-list li[data-annotation-id='{annotation_id}']")


def wait_review_idle(page) -> None:
    page.wait_for_function(f"{ROOT}.reviewBusy === 'false'")


def trail(image) -> list[tuple]:
    return list(
        StatusTransition.objects.filter(image=image)
        .order_by("id")
        .values_list("annotation_id", "actor__username", "from_status", "to_status", "comment")
    )


def test_submit_review_fix_reopen_sam_and_approve_in_the_annotator_page(browser, live_server, shapes_image):
    image = shapes_image
    errors: list[str] = []
    browser.page.on("pageerror", lambda error: errors.append(str(error)))
    browser.page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)

    # Annotator: a SAM annotation and a polygon, then "Submit image for review" on the page.
    page = open_annotator(browser, live_server, image)
    root = page.locator("#annotator-root")
    assert root.get_attribute("data-mode") == "annotate"
    assert page.locator("#review-status").inner_text() == "Review: not submitted"
    click_image(page, image, 250, 180)
    assert mask_area(page) > 1000
    page.keyboard.press("Enter")
    wait_saved(page, 1)
    page.keyboard.press("p")
    for x, y in SQUARE:
        page.mouse.click(*to_screen(page, image, x, y))
    page.keyboard.press("Enter")
    wait_saved(page, 2)
    sam_annotation, square = Annotation.objects.filter(image=image).order_by("id")
    assert (sam_annotation.source, square.source) == ("sam_click", "manual")
    page.get_by_role("button", name="Submit image for review").click()
    page.wait_for_selector("#annotator-root[data-review-status=submitted]")
    wait_review_idle(page)
    assert root.get_attribute("data-mode") == "read"  # the annotator may no longer edit
    assert page.locator("#submit-image").is_hidden()
    assert page.locator("button[data-tool=polygon]").is_disabled()
    assert "Submitted for review." in page.locator("#review-message").inner_text()
    assert Image.objects.get(pk=image.pk).review_status == "submitted"
    assert set(Annotation.objects.filter(image=image).values_list("status", flat=True)) == {"submitted"}
    assert trail(image) == [
        (sam_annotation.pk, "annotator1", "draft", "submitted", ""),
        (square.pk, "annotator1", "draft", "submitted", ""),
        (None, "annotator1", "new", "submitted", ""),
    ]
    # In read mode a click with the SAM shortcut draws nothing.
    page.keyboard.press("s")
    click_image(page, image, 100, 300)
    page.keyboard.press("Enter")
    assert Annotation.objects.filter(image=image).count() == 2

    # Reviewer: the same page in review mode, with the origin of each annotation; rejects the polygon
    # with a comment (the image still waits for the SAM one), then rejects the image with a comment.
    page = switch_to(browser, live_server, "reviewer1", image)
    assert root.get_attribute("data-mode") == "review"
    assert item(page, sam_annotation.pk).locator(".origin").inner_text() == "SAM as is"
    assert item(page, square.pk).locator(".origin").inner_text() == "drawn by hand"
    assert item(page, square.pk).locator(".reopen-sam").count() == 0  # no SAM prompts to reopen
    assert page.locator("button[data-tool=polygon]").is_enabled()  # reviewers add missed objects (issue 13)
    item(page, square.pk).locator(".reject-annotation").click()  # without a comment: refused
    wait_review_idle(page)
    assert page.locator("#review-message").get_attribute("data-kind") == "error"
    assert "needs a comment" in page.locator("#review-message").inner_text()
    item(page, square.pk).locator("input.annotation-comment").fill("The bottom right corner is off")
    item(page, square.pk).locator(".reject-annotation").click()
    page.wait_for_selector(f"#annotation-list li[data-annotation-id='{square.pk}'][data-status=rejected]")
    assert "The bottom right corner is off" in item(page, square.pk).locator(".review-comment").inner_text()
    square.refresh_from_db()
    assert (square.status, square.review_comment) == ("rejected", "The bottom right corner is off")
    assert Image.objects.get(pk=image.pk).review_status == "submitted"
    page.fill("#review-image-comment", "Please fix the square before I look again")
    page.get_by_role("button", name="Reject the rest").click()  # the undecided SAM one too
    page.wait_for_selector("#annotator-root[data-review-status=rejected]")
    wait_review_idle(page)
    assert root.get_attribute("data-mode") == "read"
    assert Image.objects.get(pk=image.pk).review_comment == "Please fix the square before I look again"
    assert trail(image)[3:] == [
        (square.pk, "reviewer1", "submitted", "rejected", "The bottom right corner is off"),
        (sam_annotation.pk, "reviewer1", "submitted", "rejected", "Please fix the square before I look again"),
        (None, "reviewer1", "submitted", "rejected", "Please fix the square before I look again"),
    ]

    # Annotator: reopens the page, reads both comments, drags the wrong vertex and resubmits.
    page = switch_to(browser, live_server, "annotator1", image)
    assert root.get_attribute("data-mode") == "annotate"
    banner = page.locator("#review-banner")
    assert banner.is_visible() and "Please fix the square before I look again" in banner.inner_text()
    rejected_item = item(page, square.pk)
    assert "rejected" in rejected_item.get_attribute("class")
    assert "The bottom right corner is off" in rejected_item.locator(".review-comment").inner_text()
    assert page.locator("#annotation-list li.rejected").count() == 2
    page.keyboard.press("v")
    page.mouse.click(*to_screen(page, image, 110, 100))
    page.wait_for_function(f"{ROOT}.selected !== ''")
    page.mouse.move(*to_screen(page, image, 160, 140))
    page.mouse.down()
    page.mouse.move(*to_screen(page, image, 180, 160), steps=4)
    page.mouse.move(*to_screen(page, image, 200, 170), steps=4)
    page.mouse.up()
    page.get_by_role("button", name="Submit image for review").click()  # saves the drag first
    page.wait_for_selector("#annotator-root[data-review-status=submitted]")
    square.refresh_from_db()
    ring = square.polygons[0][0]
    assert ring[4:6] == [pytest.approx(200, abs=1.5), pytest.approx(170, abs=1.5)]
    assert square.status == "submitted" and square.version == 5  # created, submitted, rejected, moved, submitted
    assert Annotation.objects.get(pk=sam_annotation.pk).status == "submitted"
    assert trail(image)[6:] == [
        (sam_annotation.pk, "annotator1", "rejected", "submitted", ""),
        (square.pk, "annotator1", "rejected", "submitted", ""),
        (None, "annotator1", "rejected", "submitted", ""),
    ]

    # Reviewer: reopens the SAM session, adds a negative click on the bar, Enter replaces the geometry
    # of the same annotation; then approves everything.
    page = switch_to(browser, live_server, "reviewer1", image)
    before = Annotation.objects.get(pk=sam_annotation.pk)
    item(page, sam_annotation.pk).get_by_role("button", name="Reopen SAM").click()
    reopened_area = mask_area(page)
    assert reopened_area > 1000
    page.evaluate(f"{ROOT}.maskArea = ''")
    click_image(page, image, 400, 180, button="right")
    page.wait_for_function(f"{ROOT}.maskIndex === '0'")
    assert mask_area(page) < reopened_area
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('review-message').textContent.includes('replaced')")
    wait_review_idle(page)
    after = Annotation.objects.get(pk=sam_annotation.pk)
    assert Annotation.objects.filter(image=image).count() == 2  # replaced, not added
    assert after.version == before.version + 1
    assert after.area < before.area and after.polygons != before.polygons
    assert after.edited_after_sam is True and after.author.username == "annotator1"
    assert after.prompts["points"][0] == before.prompts["points"][0]
    assert after.prompts["points"][1] == [pytest.approx(400, abs=1), pytest.approx(180, abs=1), 0]
    assert item(page, sam_annotation.pk).locator(".origin").inner_text() == "edited after SAM"
    assert trail(image)[9:] == [
        (sam_annotation.pk, "reviewer1", "submitted", "corrected", "Corrected during review: geometry.")
    ]
    page.get_by_role("button", name="Approve all").click()
    page.wait_for_selector("#annotator-root[data-review-status=approved]")
    wait_review_idle(page)
    assert root.get_attribute("data-mode") == "read"
    assert page.locator("#review-status").inner_text() == "Review: approved"
    assert Image.objects.get(pk=image.pk).review_status == "approved"
    assert set(Annotation.objects.filter(image=image).values_list("status", flat=True)) == {"approved"}
    assert trail(image)[10:] == [
        (sam_annotation.pk, "reviewer1", "submitted", "approved", ""),
        (square.pk, "reviewer1", "submitted", "approved", ""),
        (None, "reviewer1", "submitted", "approved", ""),
    ]
    # The one 400 is the rejection without a comment, which the page showed as a readable error.
    assert [r for r in browser.failed_responses if f"/api/annotations/{square.pk}/review/" not in r] == []
    assert len(browser.failed_responses) == 1 and browser.failed_responses[0].startswith("400 ")
    assert [e for e in errors if "400" not in e] == []  # Chromium logs the refused request itself
