"""A window chosen per project (Project.dicom_window): validation through the API, the rendition key
that keeps the embedding cache honest, the re-render service, and the annotator's render endpoint."""

from __future__ import annotations

import hashlib
import io

import numpy as np
import pytest
from django.core.files.storage import default_storage
from PIL import Image as PILImage
from rest_framework.test import APIClient

from annotator.dicom.window import resolve_window, window_choice_clean
from annotator.media import decode_image
from annotator.models import Image, Role
from annotator.selectors_dicom import dicom_frame_siblings
from annotator.services.dicom_renditions import images_render_dicom
from annotator.services.projects import project_update
from segmentation.models import Embedding
from tests.annotator.dicom.samples import generated_ct, ingest, manager_client, shipped_path
from tests.factories import image_with_embedding_status, make_image, make_project, make_user

pytestmark = pytest.mark.django_db

# HU from air to bone: a lung window and the file's soft-tissue window show it very differently.
HU = np.tile(np.arange(-1000, 1000, 8, dtype=np.int64), (20, 1))


def display(image: Image) -> np.ndarray:
    with default_storage.open(image.display.name, "rb") as handle:
        return np.asarray(PILImage.open(io.BytesIO(handle.read())).convert("L"))


def test_window_choices_are_checked_with_readable_reasons():
    assert window_choice_clean(None) is None
    assert window_choice_clean("ct-lung") == "ct-lung"
    assert window_choice_clean({"center": "40", "width": 400}) == {"center": 40.0, "width": 400.0}
    for bad, reason in [
        ("lung", "unknown window preset"),
        ({"center": 1}, "a window is null"),
        ({"center": 1, "width": 0}, "between 1 and"),
        ({"center": "x", "width": 5}, "numbers"),
        (42, "a window is null"),
    ]:
        with pytest.raises(ValueError, match=reason):
            window_choice_clean(bad)
    assert resolve_window("ct-lung", "CT") == (-600.0, 1500.0)
    assert resolve_window("ct-lung", "MR") is None  # a preset is for its modality only
    assert resolve_window({"center": 5, "width": 10}, "MR") == (5.0, 10.0)


def test_api_sets_the_window_and_refuses_bad_ones():
    project = make_project()
    client = manager_client(project)
    url = f"/api/projects/{project.pk}/"

    response = client.patch(url, {"dicom_window": "ct-lung"}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["dicom_window"] == "ct-lung"
    assert response.json()["dicom_render_state"]["status"] == "queued"

    bad = client.patch(url, {"dicom_window": "ct-lungs"}, format="json")
    assert bad.status_code == 400 and "unknown window preset" in bad.json()["dicom_window"][0]
    bad = client.patch(url, {"dicom_window": {"center": 40}}, format="json")
    assert bad.status_code == 400 and "dicom_window" in bad.json()
    assert client.patch(url, {"dicom_window": {"center": 40, "width": 400}}, format="json").json()["dicom_window"] == {
        "center": 40.0,
        "width": 400.0,
    }
    assert client.patch(url, {"dicom_window": None}, format="json").json()["dicom_window"] is None


def test_changing_the_window_rerenders_with_new_keys_and_new_embeddings():
    project = make_project()
    ct = ingest(project, ("ct.dcm", generated_ct(HU))).accepted[0]
    mr = ingest(project, ("mr.dcm", shipped_path("MR_small.dcm").read_bytes())).accepted[0]
    photo = make_image(project)
    file_key, mr_key, before = ct.sha256, mr.sha256, display(ct)
    assert ct.metadata["file_sha256"] == file_key  # the file's own window: the plain file hash

    project_update(project=project, dicom_window="ct-lung")
    images_render_dicom(project_id=project.pk)

    ct.refresh_from_db()
    mr.refresh_from_db()
    after = display(ct)
    assert ct.metadata["window_source"] == "requested" and ct.metadata["window"] == {"center": -600.0, "width": 1500.0}
    assert ct.metadata["file_window"] == {"center": 40.0, "width": 400.0}
    assert ct.sha256 != file_key and ct.metadata["file_sha256"] == file_key
    expected = hashlib.sha256(ct.file.open("rb").read() + b":window:-600/1500").hexdigest()
    assert ct.sha256 == expected
    assert np.abs(after.astype(int) - before.astype(int)).max() > 50
    # Air (-1000 HU) is black in both, but -400 HU is black under 40/400 and grey under the lung window.
    assert before[0, 75] == 0 and 60 < after[0, 75] < 200
    assert Embedding.objects.filter(image_sha256=ct.sha256).exists()  # requested for the new rendition
    assert image_with_embedding_status(ct).embedding_status == "pending"
    assert mr.sha256 == mr_key  # a CT preset leaves MR alone
    assert project.__class__.objects.get(pk=project.pk).dicom_render_state == {
        "status": "done",
        "done": 2,
        "total": 2,
        "error": "",
    }
    photo_before = photo.sha256
    photo.refresh_from_db()
    assert photo.sha256 == photo_before

    images_render_dicom(project_id=project.pk)  # idempotent
    ct.refresh_from_db()
    assert ct.sha256 == expected

    project_update(project=project, dicom_window=None)
    images_render_dicom(project_id=project.pk)
    ct.refresh_from_db()
    assert ct.sha256 == file_key and np.array_equal(display(ct), before)


def test_upload_into_a_windowed_project_uses_its_window_and_still_finds_duplicates():
    project = make_project(dicom_window={"center": -600, "width": 1500})
    data = generated_ct(HU)
    image = ingest(project, ("ct.dcm", data)).accepted[0]
    assert image.metadata["window_source"] == "requested"
    assert image.sha256 == hashlib.sha256(data + b":window:-600/1500").hexdigest()
    again = ingest(project, ("copy.dcm", data))
    assert again.accepted == [] and "duplicate of ct.dcm" in again.rejected[0][1]


def test_multi_frame_rows_are_siblings_in_frame_order():
    project = make_project(dicom_window={"center": 0, "width": 100})
    rows = ingest(project, ("dose.dcm", shipped_path("rtdose.dcm").read_bytes())).accepted
    assert len(rows) > 1 and len({row.sha256 for row in rows}) == len(rows)
    siblings = dicom_frame_siblings(rows[1])
    assert siblings == [(index, row.pk) for index, row in enumerate(rows)]
    assert dicom_frame_siblings(make_image(project)) == [(0, Image.objects.last().pk)]


def test_render_endpoint_renders_any_window_for_members_without_touching_the_image():
    project = make_project()
    ct = ingest(project, ("ct.dcm", generated_ct(HU))).accepted[0]
    photo = make_image(project)
    annotator = make_user()
    project.memberships.create(user=annotator, role=Role.ANNOTATOR)
    client = APIClient()
    client.force_authenticate(annotator)

    response = client.get(f"/api/images/{ct.pk}/render/?center=-600&width=1500")

    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    pixels = np.asarray(PILImage.open(io.BytesIO(response.content)).convert("L"))
    expected = decode_image(ct.file.open("rb").read(), name="ct.dcm", window=(-600, 1500))
    assert np.array_equal(pixels, np.asarray(PILImage.open(io.BytesIO(expected.display)).convert("L")))
    assert not np.array_equal(pixels, display(ct))
    key = ct.sha256
    ct.refresh_from_db()
    assert ct.sha256 == key  # the stored rendition and its embedding key are untouched

    not_dicom = client.get(f"/api/images/{photo.pk}/render/?center=1&width=2")
    assert not_dicom.status_code == 400 and "Only DICOM images" in not_dicom.json()["detail"]
    missing = client.get(f"/api/images/{ct.pk}/render/?center=1")
    assert missing.status_code == 400 and "center and width" in missing.json()["window"][0]
    bad = client.get(f"/api/images/{ct.pk}/render/?center=1&width=-5")
    assert bad.status_code == 400 and "Bad window" in bad.json()["detail"]
    outsider = APIClient()
    outsider.force_authenticate(make_user())
    assert outsider.get(f"/api/images/{ct.pk}/render/?center=1&width=2").status_code == 404


def test_colour_dicom_has_no_window():
    project = make_project()
    rows = ingest(project, ("us.dcm", shipped_path("examples_ybr_color.dcm").read_bytes())).accepted
    client = manager_client(project)
    response = client.get(f"/api/images/{rows[0].pk}/render/?center=1&width=2")
    assert response.status_code == 400 and "greyscale" in response.json()["detail"]


def test_project_page_shows_the_dicom_settings_to_managers_only(client):
    manager, annotator = make_user(), make_user()
    project = make_project(
        members={manager: Role.MANAGER, annotator: Role.ANNOTATOR},
        dicom_window={"center": -600, "width": 1500},
        dicom_deidentify=True,
        dicom_render_state={"status": "running", "done": 3, "total": 7, "error": ""},
    )
    client.force_login(manager)
    page = client.get(f"/projects/{project.pk}/").content.decode()
    assert 'id="dicom-deidentify" checked' in page
    assert '<option value="ct-lung">CT lung (-600/1500)</option>' in page
    assert '<option value="custom" selected>' in page and 'id="dicom-center" value="-600' in page
    assert "Re-render: running 3/7" in page
    client.force_login(annotator)
    page = client.get(f"/projects/{project.pk}/").content.decode()
    assert "dicom-form" not in page and "Re-render: running 3/7" in page
