"""POST /api/projects/<id>/images/: 201 all accepted, 207 some rejected, 400 none; managers only."""

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotator.models import Image
from tests.factories import image_bytes

pytestmark = pytest.mark.django_db


def png(name: str, seed: int) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, image_bytes(16, 12, seed=seed), content_type="image/png")


def upload(client, project, files):
    return client.post(f"/api/projects/{project.pk}/images/", {"files": files}, format="multipart")


def test_all_accepted_is_201(team, api_as):
    response = upload(api_as(team["manager"]), team["project"], [png("a.png", 101), png("b.png", 102)])
    assert response.status_code == 201, response.json()
    body = response.json()
    assert [row["original_name"] for row in body["accepted"]] == ["a.png", "b.png"]
    assert body["accepted"][0]["width"] == 16 and body["accepted"][0]["height"] == 12
    assert body["rejected"] == []


def test_some_rejected_is_207_listing_both(team, api_as):
    bad = SimpleUploadedFile("notes.png", b"this is text, not a picture", content_type="image/png")
    response = upload(api_as(team["manager"]), team["project"], [png("good.png", 103), bad])
    assert response.status_code == 207
    body = response.json()
    assert [row["original_name"] for row in body["accepted"]] == ["good.png"]
    assert [row["name"] for row in body["rejected"]] == ["notes.png"] and body["rejected"][0]["reason"]


def test_zip_upload(team, api_as):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("x/one.png", image_bytes(8, 8, seed=104))
        archive.writestr("x/two.png", image_bytes(8, 8, seed=105))
    archive = SimpleUploadedFile("batch.zip", buffer.getvalue(), content_type="application/zip")
    response = upload(api_as(team["manager"]), team["project"], [archive])
    assert response.status_code == 201, response.json()
    assert len(response.json()["accepted"]) == 2


def test_none_accepted_is_400(team, api_as):
    before = Image.objects.count()
    bad = SimpleUploadedFile("empty.png", b"", content_type="image/png")
    response = upload(api_as(team["manager"]), team["project"], [bad])
    assert response.status_code == 400
    assert response.json()["accepted"] == [] and response.json()["rejected"][0]["name"] == "empty.png"
    assert Image.objects.count() == before


def test_no_files_is_400(team, api_as):
    response = api_as(team["manager"]).post(f"/api/projects/{team['project'].pk}/images/", {}, format="multipart")
    assert response.status_code == 400 and "files" in response.json()


@pytest.mark.parametrize("role", ["annotator", "reviewer"])
def test_only_managers_upload(team, api_as, role):
    response = upload(api_as(team[role]), team["project"], [png("c.png", 106)])
    assert response.status_code == 403
    assert not Image.objects.filter(original_name="c.png").exists()
