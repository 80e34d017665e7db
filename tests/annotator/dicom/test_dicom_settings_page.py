"""The project page's DICOM card (frontend/src/pages/dicomSettings.ts) in real headless Chromium: a refused
de-identification switch shows the API's reason, and a window is saved."""

from __future__ import annotations

import numpy as np
import pytest

from annotator.models import Project, Role
from tests.annotator.dicom.samples import generated_ct, ingest
from tests.e2e.conftest import browser, log_in  # noqa: F401 - the browser fixture
from tests.factories import make_project, make_user

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_manager_sees_why_deidentification_cannot_be_turned_on_and_saves_a_window(browser, live_server):
    manager = make_user(password="pw-dicom-settings")
    project = make_project(members={manager: Role.MANAGER})
    ingest(project, ("ct.dcm", generated_ct(np.tile(np.arange(-1000, 1000, 8, dtype=np.int64), (20, 1)))))
    log_in(browser, live_server, manager.username, "pw-dicom-settings")
    page = browser.page
    page.goto(f"{live_server.url}/projects/{project.pk}/")

    page.check("#dicom-deidentify")
    page.click("#dicom-form button[type=submit]")
    page.wait_for_selector("#dicom-status[data-state=error]")
    message = page.text_content("#dicom-status")
    assert "Not saved" in message and "already holds 1 DICOM image" in message, message
    assert Project.objects.get(pk=project.pk).dicom_deidentify is False
    browser.failed_responses.clear()  # the refused PATCH is the point of this step

    page.uncheck("#dicom-deidentify")
    page.select_option("#dicom-window", "ct-lung")
    page.click("#dicom-form button[type=submit]")
    page.wait_for_selector("#dicom-status[data-state=saved]")
    assert "Re-render: queued" in page.text_content("#dicom-status")
    assert Project.objects.get(pk=project.pk).dicom_window == "ct-lung"
    assert browser.failed_responses == []
