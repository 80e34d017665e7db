"""Bounded input at the API (issue 15): numbers of any size give 400 (never 500), every oversized body a
JSON 413 and every malformed one a JSON 400, upload temp files never outlive their process."""

import json
import os
import signal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from annotator.models import Annotation, Image, LabelClass
from tests.factories import image_bytes, make_annotation, square_polygons
from tests.settings_subprocess import run_python

pytestmark = pytest.mark.django_db

HUGE = 2**64


def post_json(client, url, body: str, **extra):
    return client.generic("POST", url, body, content_type="application/json", **extra)


def test_coordinate_of_2_to_64_is_400_on_create_and_patch(team, api_as):
    client = api_as(team["annotator"])
    image = team["image"]
    ring = [1, 1, 10, 1, 10, HUGE]
    body = {"label_class": team["label_class"].pk, "source": "manual", "polygons": [[ring]]}
    response = client.post(f"/api/images/{image.pk}/annotations/", body, format="json")
    assert response.status_code == 400, response.content
    assert "geometry" in response.json()
    annotation = make_annotation(image, author=team["annotator"])
    response = client.patch(f"/api/annotations/{annotation.pk}/", {"version": 1, "polygons": [[ring]]}, format="json")
    assert response.status_code == 400, response.content
    assert Annotation.objects.get(pk=annotation.pk).version == 1


def test_huge_rle_size_is_400_with_no_decode(team, api_as):
    body = {"label_class": team["label_class"].pk, "source": "manual", "rle": {"size": [60_000, 60_000], "counts": "0"}}
    response = api_as(team["annotator"]).post(f"/api/images/{team['image'].pk}/annotations/", body, format="json")
    assert response.status_code == 400
    assert "does not match the image" in response.json()["rle"][0]


def test_oversized_json_body_is_json_413(team, api_as, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    client = api_as(team["annotator"])
    polygons = [[[float(v) for v in square_polygons(1, 1, 5)[0][0]] * 200]]
    body = json.dumps({"label_class": team["label_class"].pk, "source": "manual", "polygons": polygons})
    assert len(body) > 4096
    response = post_json(client, f"/api/images/{team['image'].pk}/annotations/", body)
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert "4096" in response.json()["detail"]
    assert not Annotation.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        "{not json",
        "[" * 100_000 + "]" * 100_000,  # deeper than Python's parser may recurse
        '{"version": ' + "9" * 5000 + "}",  # more digits than int() accepts
    ],
)
def test_malformed_json_body_is_json_400(team, api_as, body):
    annotation = make_annotation(team["image"], author=team["annotator"])
    response = api_as(team["annotator"]).generic(
        "PATCH", f"/api/annotations/{annotation.pk}/", body, content_type="application/json"
    )
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"]


def test_oversized_form_read_by_the_csrf_check_is_json_413(team, settings):
    """A session-authenticated form post: the CSRF check reads the body before the view does."""
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(team["manager"])
    client.cookies["csrftoken"] = "a" * 32  # no header: the check looks for the token in the form
    response = client.post(f"/api/projects/{team['project'].pk}/label-classes/", {"name": "x" * 5000})
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert not LabelClass.objects.filter(name="x" * 5000).exists()


def test_bad_request_outside_any_view_is_json_on_api_paths(db):
    response = Client().get("/api/projects/", HTTP_HOST="evil.example")  # DisallowedHost
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["detail"]
    page = Client().get("/login/", HTTP_HOST="evil.example")
    assert page.status_code == 400 and "application/json" not in page["Content-Type"]


def test_upload_over_the_memory_limit_goes_through_an_unnamed_temp_file(team, api_as, settings, tmp_path):
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 100
    settings.FILE_UPLOAD_TEMP_DIR = str(tmp_path / "uploads")
    os.mkdir(settings.FILE_UPLOAD_TEMP_DIR)
    files = [SimpleUploadedFile("big.png", image_bytes(64, 48, seed=7), content_type="image/png")]
    response = api_as(team["manager"]).post(
        f"/api/projects/{team['project'].pk}/images/", {"files": files}, format="multipart"
    )
    assert response.status_code == 201, response.content
    assert Image.objects.filter(original_name="big.png").exists()
    assert os.listdir(settings.FILE_UPLOAD_TEMP_DIR) == []


# A process killed in the middle of reading an upload (SIGKILL: no cleanup code runs). The request
# goes through Django's real request parsing and the configured upload handlers.
KILLED_MID_UPLOAD = """
import io, os, signal, django
django.setup()
from django.core.handlers.wsgi import WSGIRequest

boundary = "B0UNDARY"
head = (f"--{boundary}\\r\\nContent-Disposition: form-data; name=\\"files\\"; filename=\\"big.zip\\"\\r\\n"
        "Content-Type: application/zip\\r\\n\\r\\n").encode()
chunk = b"PK" + b"x" * (4 * 1024 * 1024)

class DyingInput(io.RawIOBase):
    def __init__(self):
        self.sent = 0
    def readable(self):
        return True
    def readinto(self, buffer):
        data = head if self.sent == 0 else chunk[: len(buffer)]
        if self.sent > 3 * len(chunk):  # several MB are on disk by now
            print("temp files:", os.listdir(os.environ["TMPDIR"]), flush=True)
            os.kill(os.getpid(), signal.SIGKILL)
        data = data[: len(buffer)]
        buffer[: len(data)] = data
        self.sent += len(data)
        return len(data)

environ = {
    "REQUEST_METHOD": "POST", "PATH_INFO": "/api/projects/1/images/", "SERVER_NAME": "testserver",
    "SERVER_PORT": "80", "wsgi.url_scheme": "http", "CONTENT_TYPE": f"multipart/form-data; boundary={boundary}",
    "CONTENT_LENGTH": str(64 * 1024 * 1024), "wsgi.input": io.BufferedReader(DyingInput()),
}
WSGIRequest(environ).FILES
"""


def test_upload_temp_file_is_gone_when_the_process_is_killed_mid_upload(tmp_path):
    temp_dir = tmp_path / "tmp"
    temp_dir.mkdir()
    result = run_python(KILLED_MID_UPLOAD, {"TMPDIR": str(temp_dir), "ANNOTATOR_VAR_DIR": str(tmp_path / "var")})
    assert result.returncode == -signal.SIGKILL, result.stderr
    assert "temp files:" in result.stdout  # it died while a file was being received
    assert list(temp_dir.iterdir()) == []
