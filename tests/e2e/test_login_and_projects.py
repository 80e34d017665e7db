"""A person logs in, finds the Demo project in the list, opens it and sees its images."""

import re

import pytest

from annotator.management.commands.seed_demo import DEMO_IMAGES, DEMO_PASSWORD
from tests.e2e.conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_log_in_open_demo_project_and_see_images(browser, live_server, demo_project):
    page = browser.page

    log_in(browser, live_server, "annotator1", DEMO_PASSWORD)

    # The project list is the landing page after login.
    assert page.url.rstrip("/") == live_server.url
    assert page.locator("header").get_by_text("annotator1").is_visible()
    project_link = page.get_by_role("link", name="Demo", exact=True)
    project_link.wait_for()
    row = page.locator("tr", has=project_link)
    assert "annotator" in row.inner_text()

    with page.expect_navigation():
        project_link.click()
    assert re.search(rf"/projects/{demo_project.pk}/?$", page.url)
    assert page.locator("h1").inner_text() == "Demo"

    tiles = page.locator(".image-grid .tile")
    assert tiles.count() == len(DEMO_IMAGES)
    names = set(page.locator(".image-grid .tile-name").all_inner_texts())
    assert names == {f"{name}.png" for name in DEMO_IMAGES}
    # The first thumbnail really decodes (served by the app with the session cookie).
    first = page.locator(".image-grid img").first
    first.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=first.element_handle())
    # Annotators do not get the manager's upload button.
    assert page.get_by_role("link", name="Upload images").count() == 0
    assert browser.failed_responses == []


def test_manager_sees_upload_link(browser, live_server, demo_project):
    log_in(browser, live_server, "admin", DEMO_PASSWORD)
    page = browser.page
    page.goto(f"{live_server.url}/projects/{demo_project.pk}/")
    page.get_by_role("link", name="Upload images").click()
    page.wait_for_url(re.compile(rf"/projects/{demo_project.pk}/upload/?$"))
    assert page.locator("input[type=file]").count() == 1
    assert browser.failed_responses == []


def test_wrong_password_shows_an_error_and_stays_logged_out(browser, live_server, demo_project):
    log_in(browser, live_server, "annotator1", "not-the-password")
    page = browser.page

    assert "/login" in page.url
    assert page.locator(".error").inner_text().strip() != ""
    assert "did not match" in page.locator(".error").inner_text()
    # Still anonymous: the project list sends us back to the login page.
    page.goto(f"{live_server.url}/")
    assert "/login" in page.url
    assert page.get_by_role("link", name="Demo").count() == 0
