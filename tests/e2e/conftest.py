"""Browser-test harness: real headless Chromium (Debian's /usr/bin/chromium) driven by Playwright
against pytest-django's live_server.

- Playwright's own browser download is never used: it needs the network and pins another build.
- Each test gets a fresh profile through launch_persistent_context (Playwright rejects
  --user-data-dir in args), so no cookie or cache leaks between tests.
- Chromium may reach only the live server: DNS answers only for localhost, and every request to
  another host is aborted and recorded; a test fails if the page tried one (no CDN, no telemetry).
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command

CHROMIUM_PATH = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost",
]
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})
# Timeouts in ms: generous for a shared 2-core machine, still far below pytest's own timeout.
ACTION_TIMEOUT_MS = 15_000


@dataclass
class BrowserSession:
    """The page plus what the guard saw: requests it blocked and local responses that failed."""

    page: object
    blocked_requests: list[str] = field(default_factory=list)
    failed_responses: list[str] = field(default_factory=list)


@pytest.fixture
def browser(request, live_server, tmp_path: Path, monkeypatch) -> Iterator[BrowserSession]:
    """`@pytest.mark.chromium_args("--flag", ...)` adds flags for one test (e.g. a software WebGPU)."""
    # Playwright's sync API keeps an asyncio event loop running in this thread; Django then refuses
    # ORM calls from it (SynchronousOnlyOperation) although they are plain synchronous code
    # here. Allowing it is safe because no coroutine ever touches the ORM in these tests.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    if not Path(CHROMIUM_PATH).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM_PATH}: run scripts/bootstrap.sh as root, or set CHROMIUM_PATH")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=CHROMIUM_PATH,
            headless=True,
            args=CHROMIUM_ARGS
            + list(extra.args if (extra := request.node.get_closest_marker("chromium_args")) else ()),
        )
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        context.on("page", _poll_from_python)
        session = BrowserSession(page=context.pages[0] if context.pages else context.new_page())
        _poll_from_python(session.page)

        def only_local(route) -> None:
            url = route.request.url
            if url.startswith(("data:", "blob:")) or urlsplit(url).hostname in LOCAL_HOSTS:
                route.continue_()
            else:
                session.blocked_requests.append(url)
                route.abort()

        def record_failure(response) -> None:
            # Browsers ask for /favicon.ico on their own; the app does not serve one.
            if response.status >= 400 and not response.url.endswith("/favicon.ico"):
                session.failed_responses.append(f"{response.status} {response.url}")

        context.route("**/*", only_local)
        session.page.on("response", record_failure)
        try:
            yield session
        finally:
            context.close()
    assert session.blocked_requests == [], f"the page tried to leave localhost: {session.blocked_requests}"


def _poll_from_python(page) -> None:
    """Give `page.wait_for_function` a version that works under the app's Content-Security-Policy.

    Playwright's own compiles the predicate inside the page (eval), which a policy without
    'unsafe-eval' refuses; `page.evaluate` goes through the DevTools protocol, which the policy does
    not govern. Same arguments; returns the predicate's truthy value instead of a handle.
    """
    if getattr(page, "_polls_from_python", False):
        return

    def wait_for_function(expression: str, arg=None, *, timeout: float | None = None, polling=None):
        deadline = time.monotonic() + (ACTION_TIMEOUT_MS if timeout is None else timeout) / 1000
        while True:
            value = page.evaluate(expression, arg)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {expression[:200]}")
            page.wait_for_timeout(50)

    page.wait_for_function = wait_for_function
    page._polls_from_python = True


@pytest.fixture
def demo_project(db):
    """The README's demo data, made by the same command scripts/run.sh uses."""
    from annotator.models import Project

    call_command("seed_demo", stdout=io.StringIO(), stderr=io.StringIO())
    return Project.objects.get(name="Demo")


def log_in(session: BrowserSession, live_server, username: str, password: str) -> None:
    """Log in through the login form as a person would, and wait for the next page."""
    page = session.page
    page.goto(f"{live_server.url}/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    with page.expect_navigation():
        page.click("button[type=submit]")
