"""A manager runs a small project with two annotators and a reviewer in the browser: splits the images
into jobs, an annotator submits, the reviewer rejects with a comment, the annotator sees it, fixes the
annotation and resubmits, the reviewer approves, and the manager's progress shows it done.

The annotation itself is drawn by a factory (the drawing tools have their own browser tests); the fix
goes through the same REST call the annotator page makes, from the annotator's logged-in page."""

from __future__ import annotations

import pytest

from annotator.models import Annotation, Image, Job, StatusTransition
from tests.e2e.conftest import BrowserSession, log_in
from tests.factories import PASSWORD, make_annotation, make_image, make_label_class, make_project, make_user

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PATCH_FROM_PAGE = """async ([id, version, polygons]) => {
  const token = document.cookie.split("; ").find(c => c.startsWith("csrftoken=")).split("=")[1];
  const response = await fetch(`/api/annotations/${id}/`, {
    method: "PATCH", headers: {"Content-Type": "application/json", "X-CSRFToken": token},
    body: JSON.stringify({version, polygons}),
  });
  return response.status;
}"""


def _switch_user(browser: BrowserSession, live_server, username: str) -> None:
    # Let the page's lazy thumbnails finish first: a request still in flight when the cookies go would
    # come back 401 and count as a failed response.
    browser.page.wait_for_load_state("networkidle")
    browser.page.goto("about:blank")
    browser.page.context.clear_cookies()
    log_in(browser, live_server, username, PASSWORD)


def test_two_annotators_and_a_reviewer_end_to_end(browser, live_server):
    users = {name: make_user(name, password=PASSWORD) for name in ["maria", "anton", "alina", "rita"]}
    project = make_project(
        "Lifecycle",
        members={
            users["maria"]: "manager",
            users["anton"]: "annotator",
            users["alina"]: "annotator",
            users["rita"]: "reviewer",
        },
    )
    cell = make_label_class(project, "cell")
    first, second = make_image(project, name="first.png"), make_image(project, name="second.png")
    page = browser.page
    project_url = f"{live_server.url}/projects/{project.pk}/"

    # Manager: one image per job, both to anton and rita, then the second job to alina.
    log_in(browser, live_server, "maria", PASSWORD)
    page.goto(project_url)
    split = page.locator("form.job-split")
    split.locator("input[name=count]").fill("1")
    split.locator("select[name=annotator]").select_option(label="anton")
    split.locator("select[name=reviewer]").select_option(label="rita")
    with page.expect_navigation():
        split.get_by_role("button", name="Create jobs").click()
    assert "Created 2 job(s)." in page.locator(".messages").inner_text()
    second_job = Job.objects.get(images=second)
    row = page.locator(f"tr[data-job-id='{second_job.pk}']")
    row.locator("select[name=annotator]").select_option(label="alina")
    with page.expect_navigation():
        row.get_by_role("button", name="Assign").click()
    assert Job.objects.get(pk=second_job.pk).annotator == users["alina"]

    # Annotator: the queue holds only anton's image; he submits it.
    annotation = make_annotation(first, label_class=cell, author=users["anton"], polygons=[[[2, 2, 9, 2, 9, 9, 2, 9]]])
    _switch_user(browser, live_server, "anton")
    page.goto(f"{project_url}queue/")
    assert page.locator(".queue-item").evaluate_all("items => items.map(i => i.dataset.imageId)") == [str(first.pk)]
    with page.expect_navigation():
        page.locator(f".queue-item[data-image-id='{first.pk}']").get_by_role("button", name="Submit for review").click()
    assert "submitted for review" in page.locator(".messages").inner_text()
    assert page.locator(".queue-item").count() == 0

    # Reviewer: rejects the annotation with a comment.
    _switch_user(browser, live_server, "rita")
    page.goto(f"{project_url}review/")
    annotation_row = page.locator(f"tr[data-annotation-id='{annotation.pk}']")
    annotation_row.locator("input[name=comment]").fill("The outline misses the left edge")
    with page.expect_navigation():
        annotation_row.get_by_role("button", name="Reject").click()
    assert Image.objects.get(pk=first.pk).review_status == "rejected"
    assert "No submitted images" in page.content()

    # Annotator: sees the rejection and its comment, fixes the mask, resubmits.
    _switch_user(browser, live_server, "anton")
    page.goto(f"{project_url}queue/")
    item = page.locator(f".queue-item[data-image-id='{first.pk}']")
    assert item.get_attribute("data-review-status") == "rejected"
    assert "The outline misses the left edge" in item.locator(".rejections").inner_text()
    version = Annotation.objects.get(pk=annotation.pk).version
    assert page.evaluate(PATCH_FROM_PAGE, [annotation.pk, version, [[[1, 2, 9, 2, 9, 9, 1, 9]]]]) == 200
    with page.expect_navigation():
        item.get_by_role("button", name="Submit for review").click()

    # Reviewer: approves the whole image.
    _switch_user(browser, live_server, "rita")
    page.goto(f"{project_url}review/")
    with page.expect_navigation():
        page.locator(f".review-item[data-image-id='{first.pk}']").get_by_role("button", name="Approve all").click()
    assert Annotation.objects.get(pk=annotation.pk).status == "approved"

    # Manager: progress shows one approved, one not started; the trail has every step.
    _switch_user(browser, live_server, "maria")
    page.goto(project_url)
    legend = page.locator(".progress-legend")
    assert "Approved: 1" in legend.inner_text() and "Not started: 1" in legend.inner_text()
    assert page.locator("tr[data-annotator='anton']").count() == 1
    steps = list(StatusTransition.objects.filter(annotation=annotation).values_list("actor__username", "to_status"))
    assert steps == [("anton", "submitted"), ("rita", "rejected"), ("anton", "submitted"), ("rita", "approved")]
    assert browser.failed_responses == []
