"""Export/import API: roles, the task writing the file, progress, download; the project page section."""

from __future__ import annotations

import io
import json

import pytest
from rest_framework.test import APIClient

from annotator.models import Export, ExportStatus
from tests.annotator.exports.conftest import coco_from
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_login(user)
    return client


def test_manager_exports_through_the_task_and_downloads(dataset, tmp_path, django_capture_on_commit_callbacks):
    from annotator.tasks import export_run

    project = dataset["project"]
    client = client_for(dataset["manager"])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            f"/api/projects/{project.pk}/exports/", {"format": "coco", "segmentation": "rle"}, format="json"
        )
    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["status"] == "queued" and body["download_url"] is None
    assert body["options"] == {
        "segmentation": "rle",
        "statuses": ["approved"],
        "label_class_ids": [],
        "job_id": None,
        "include_images": False,
    }
    assert len(callbacks) == 1  # the task is queued once the row is committed
    export_run(body["id"])  # what the worker runs (the task body, called in this process)
    detail = client.get(f"/api/exports/{body['id']}/").json()
    assert detail["status"] == "done" and detail["progress"] == 1.0
    assert detail["summary"]["annotations"] == 3
    assert detail["download_url"] == f"/api/exports/{body['id']}/download/"
    download = client.get(detail["download_url"])
    assert download.status_code == 200
    assert 'filename="export-project-coco-' in download["Content-Disposition"]
    coco = coco_from(b"".join(download.streaming_content), tmp_path)
    assert len(coco.dataset["annotations"]) == 3
    listing = client.get(f"/api/projects/{project.pk}/exports/").json()
    assert [e["id"] for e in listing] == [body["id"]]
    # Run again (a redelivered task): nothing changes.
    export_run(body["id"])
    assert Export.objects.get(pk=body["id"]).status == ExportStatus.DONE


def test_reviewer_may_export_annotator_may_not_non_member_gets_404(dataset):
    project = dataset["project"]
    url = f"/api/projects/{project.pk}/exports/"
    assert client_for(dataset["reviewer"]).post(url, {"format": "yolo"}, format="json").status_code == 202
    assert client_for(dataset["annotator"]).post(url, {"format": "yolo"}, format="json").status_code == 403
    assert client_for(dataset["annotator"]).get(url).status_code == 403
    stranger = client_for(make_user("stranger"))
    assert stranger.post(url, {"format": "yolo"}, format="json").status_code == 404
    export = Export.objects.get()
    assert stranger.get(f"/api/exports/{export.pk}/").status_code == 404
    assert stranger.get(f"/api/exports/{export.pk}/download/").status_code == 404
    assert client_for(dataset["annotator"]).get(f"/api/exports/{export.pk}/").status_code == 403
    # Not finished yet: no file to download.
    assert client_for(dataset["manager"]).get(f"/api/exports/{export.pk}/download/").status_code == 404


def test_bad_export_requests_are_400(dataset):
    client = client_for(dataset["manager"])
    url = f"/api/projects/{dataset['project'].pk}/exports/"
    assert client.post(url, {"format": "pascal"}, format="json").status_code == 400
    assert client.post(url, {"format": "coco", "segmentation": "mesh"}, format="json").status_code == 400
    response = client.post(url, {"format": "coco", "label_class_ids": [987654]}, format="json")
    assert response.status_code == 400 and "987654" in response.json()["label_class_ids"][0]


def test_ids_beyond_64_bits_are_400_not_a_database_overflow(dataset):
    """Found by schemathesis: such an id reached the database query and overflowed (500)."""
    client = client_for(dataset["manager"])
    url = f"/api/projects/{dataset['project'].pk}/exports/"
    huge = 6914459037280085315944448
    assert client.post(url, {"format": "coco", "label_class_ids": [huge]}, format="json").status_code == 400
    assert client.post(url, {"format": "coco", "job_id": huge}, format="json").status_code == 400


def test_a_failing_export_records_its_error(dataset):
    from annotator.services.exports import export_run

    export = Export.objects.create(project=dataset["project"], format="coco", options={"segmentation": "bogus"})
    export_run(export.pk)
    export.refresh_from_db()
    assert export.status == ExportStatus.FAILED and "rle or polygon" in export.error


def test_import_api_manager_only_with_report(dataset):
    project = dataset["project"]
    url = f"/api/projects/{project.pk}/imports/coco/"
    data = {
        "images": [{"id": 1, "file_name": "slide-a.png", "width": 48, "height": 32}],
        "categories": [{"id": 1, "name": "cell"}],
        "annotations": [
            {"id": 5, "image_id": 1, "category_id": 1, "segmentation": [[1, 1, 20, 1, 20, 20]]},
            {"id": 6, "image_id": 1, "category_id": 3, "segmentation": [[1, 1, 20, 1, 20, 20]]},
        ],
    }

    def upload(user, content: bytes):
        file = io.BytesIO(content)
        file.name = "coco.json"
        return client_for(user).post(url, {"file": file}, format="multipart")

    assert upload(dataset["reviewer"], json.dumps(data).encode()).status_code == 403
    assert upload(make_user("outsider"), json.dumps(data).encode()).status_code == 404
    response = upload(dataset["manager"], json.dumps(data).encode())
    assert response.status_code == 200
    assert response.json() == {
        "imported": 1,
        "skipped": [{"id": 6, "reason": "category_id 3 is not a category"}],
        "created_label_classes": [],
    }
    broken = upload(dataset["manager"], b"{not json")
    assert broken.status_code == 400 and "Not a JSON file" in broken.json()["file"][0]


def test_project_page_shows_the_export_section_to_managers_only(dataset):
    from django.test import Client

    page = Client()
    page.force_login(dataset["manager"])
    html = page.get(f"/projects/{dataset['project'].pk}/").content.decode()
    assert 'id="export-form"' in html and "projectPage" in html  # the Vite entry frontend/src/pages/projectPage.ts
    page.force_login(dataset["annotator"])
    html = page.get(f"/projects/{dataset['project'].pk}/").content.decode()
    assert 'id="export-form"' not in html
