"""The burned-in annotation rule (Project.dicom_burned_in) through the REST API and the project page's
DICOM card: choices validated, managers only, and the saved rule is the one the next upload follows."""

from __future__ import annotations

import pydicom
import pytest
from rest_framework.test import APIClient

from annotator.models import Project, Role
from tests.annotator.dicom.samples import dataset_bytes, ingest, manager_client, shipped_path
from tests.e2e.conftest import browser, log_in  # noqa: F401 - the browser fixture
from tests.factories import make_project, make_user


def _burned_in_ultrasound() -> bytes:
    ds = pydicom.dcmread(shipped_path("examples_palette.dcm"))
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.BurnedInAnnotation = "YES"
    return dataset_bytes(ds)


@pytest.mark.django_db
def test_api_shows_validates_and_saves_the_burned_in_rule():
    project = make_project()
    client = manager_client(project)
    url = f"/api/projects/{project.pk}/"
    assert client.get(url).json()["dicom_burned_in"] == "flag"

    bad = client.patch(url, {"dicom_burned_in": "scrub"}, format="json")
    assert bad.status_code == 400
    assert "dicom_burned_in" in bad.json() and "scrub" in str(bad.json()["dicom_burned_in"])
    assert Project.objects.get(pk=project.pk).dicom_burned_in == "flag"

    ok = client.patch(url, {"dicom_burned_in": "refuse"}, format="json")
    assert ok.status_code == 200 and ok.json()["dicom_burned_in"] == "refuse"
    project.refresh_from_db()
    report = ingest(project, ("us.dcm", _burned_in_ultrasound()))
    assert report.accepted == [] and "this project refuses such images" in report.rejected[0][1]


@pytest.mark.django_db
def test_only_managers_change_the_burned_in_rule():
    annotator = make_user()
    project = make_project(members={annotator: Role.ANNOTATOR})
    client = APIClient()
    client.force_authenticate(annotator)
    response = client.patch(f"/api/projects/{project.pk}/", {"dicom_burned_in": "refuse"}, format="json")
    assert response.status_code == 403
    assert Project.objects.get(pk=project.pk).dicom_burned_in == "flag"


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_manager_sets_refuse_on_the_project_page(browser, live_server):
    manager = make_user(password="pw-burned-in")
    project = make_project(members={manager: Role.MANAGER})
    log_in(browser, live_server, manager.username, "pw-burned-in")
    page = browser.page
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    assert page.input_value("#dicom-burned-in") == "flag"
    page.select_option("#dicom-burned-in", "refuse")
    page.click("#dicom-form button[type=submit]")
    page.wait_for_selector("#dicom-status[data-state=saved]")
    assert Project.objects.get(pk=project.pk).dicom_burned_in == "refuse"
    page.reload()
    assert page.input_value("#dicom-burned-in") == "refuse"
    assert browser.failed_responses == []
