"""Fixes from the DICOM audit: de-identification of every name and date and of the file name, the
de-identification switch over identified images, re-render runs that die, race uploads or each
other, bad window numbers, and one parse per file."""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
import pytest
from django.core.files.storage import default_storage
from django.db import OperationalError, connection
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from annotator.dicom.deidentify import deidentify
from annotator.models import Image, Project
from annotator.services.dicom_renditions import (
    images_render_dicom,
    parsed_original,
    parsed_originals_cache,
)
from annotator.services.images import image_delete
from annotator.services.projects import project_update
from segmentation.models import Embedding
from tests.annotator.dicom.samples import enhanced_ct, generated_ct, ingest, manager_client
from tests.factories import image_with_embedding_status, make_image, make_project

pytestmark = pytest.mark.django_db

HU = np.tile(np.arange(-1000, 1000, 8, dtype=np.int64), (20, 1))
UPLOAD_PATH = "DOE^JANE_MRN123456/IM0001.dcm"


def with_unlisted_phi() -> bytes:
    """A CT with names, free text and dates in attributes the first action list did not know,
    one of them nested in a functional-group-like sequence, and a preamble that names the patient."""
    ds = pydicom.dcmread(io.BytesIO(generated_ct(HU)))
    ds.ContentCreatorName = "Doe^Jane"
    ds.VerifyingObserverName = "Smith^Bob"
    ds.PerformedStationName = "JANE-DOE-WS"
    ds.RequestedProcedureDescription = "Jane Doe MRN 123456"
    ds.ReasonForStudy = "Jane Doe follow-up"
    ds.AdmissionID = "ADM-123456"
    ds.PatientInstitutionResidence = "Ward 5"
    ds.OperatorIdentificationSequence = Sequence([Dataset()])
    ds.OperatorIdentificationSequence[0].InstitutionName = "St Elsewhere"
    ds.add_new(0x00181200, "DA", "20251231")  # DateOfLastCalibration: a date no list names
    item = Dataset()
    item.FrameAcquisitionDateTime = "20260101120000"
    item.add_new(0x0040A123, "PN", "Nested^Person")  # PersonName inside an item
    ds.FrameContentSequence = Sequence([item])
    ds.preamble = b"PATIENT JANE DOE MRN 123456".ljust(128, b"\0")
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def test_deidentify_blanks_every_name_and_date_at_every_level_and_zeroes_the_preamble():
    source = with_unlisted_phi()
    result = deidentify(source)

    ds = pydicom.dcmread(io.BytesIO(result))
    for keyword in (
        "ContentCreatorName",
        "PerformedStationName",
        "RequestedProcedureDescription",
        "ReasonForStudy",
        "AdmissionID",
        "PatientInstitutionResidence",
        "OperatorIdentificationSequence",
    ):
        assert ds.get(keyword) in (None, ""), keyword
    assert ds[0x00181200].value in (None, "")
    assert ds.FrameContentSequence[0].get("FrameAcquisitionDateTime") in (None, "")
    # Code D of Table E.1-1 (Person Name, Verifying Observer Name): a dummy value, not the original.
    assert ds.FrameContentSequence[0][0x0040A123].value == "ANONYMOUS"
    assert ds.get("VerifyingObserverName") in (None, "", "ANONYMOUS")
    assert result[:128] == b"\0" * 128
    for secret in (
        b"JANE",
        b"Jane",
        b"Doe",
        b"123456",
        b"Smith",
        b"Ward 5",
        b"Elsewhere",
        b"Nested",
        b"20251231",
        b"20260101",
    ):
        assert secret not in result, secret
    assert all(
        element.VR not in ("PN", "DA", "DT", "TM") or element.value in (None, "", "ANONYMOUS")
        for element in ds.iterall()
    )
    # UIDs stay (Retain UIDs Option) and the pixels decode as before.
    original = pydicom.dcmread(io.BytesIO(source))
    for uid in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID"):
        assert ds[uid].value == original[uid].value
    np.testing.assert_array_equal(ds.pixel_array, original.pixel_array)


def test_deidentified_upload_gets_a_neutral_name_that_is_never_logged(caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    project = make_project(dicom_deidentify=True)
    data = with_unlisted_phi()

    image = ingest(project, (UPLOAD_PATH, data)).accepted[0]

    uid = pydicom.dcmread(io.BytesIO(data)).SOPInstanceUID
    assert image.original_name == f"{uid}.dcm"
    # A storage failure is logged with the neutral name; the uploader's report keeps their own name.
    other = pydicom.dcmread(io.BytesIO(generated_ct(HU + 2)))
    with originals_folder_blocked():
        report = ingest(project, ("DOE^JANE_MRN123456/IM0002.dcm", _bytes(other)))
    assert report.rejected and report.rejected[0][0] == "DOE^JANE_MRN123456/IM0002.dcm"
    assert any("Storing" in record.getMessage() for record in caplog.records)
    assert all("MRN123456" not in record.getMessage() for record in caplog.records)
    # Without the setting the name is the uploaded one, as before.
    plain = ingest(make_project(), (UPLOAD_PATH, generated_ct(HU))).accepted[0]
    assert plain.original_name == UPLOAD_PATH


@contextlib.contextmanager
def originals_folder_blocked():
    """A real storage failure: a plain file stands where the originals folder is, so writing any
    original raises an OSError (running as root, permissions alone would not stop the write)."""
    folder = Path(default_storage.path("originals"))
    aside = folder.with_name("originals-aside")
    folder.rename(aside)
    folder.write_bytes(b"")
    try:
        yield
    finally:
        folder.unlink()
        aside.rename(folder)


@contextlib.contextmanager
def after_each_parse(action: Callable[[], None], monkeypatch):
    """Run `action` once, right after the next DICOM file is parsed (pydicom.dcmread): what another
    request commits while an upload or a re-render holds a parsed file it has not stored yet."""
    parse, calls = pydicom.dcmread, []

    def parse_then_act(*args, **kwargs):
        dataset = parse(*args, **kwargs)
        if not calls:
            calls.append(1)  # before the action: the action may parse files itself
            action()
        return dataset

    monkeypatch.setattr(pydicom, "dcmread", parse_then_act)
    yield
    monkeypatch.setattr(pydicom, "dcmread", parse)
    assert calls, "no DICOM file was parsed: the action never ran"


def parse_counter(monkeypatch) -> list[int]:
    """Counts pydicom.dcmread calls (parses of a DICOM file)."""
    parse, calls = pydicom.dcmread, []
    monkeypatch.setattr(pydicom, "dcmread", lambda *args, **kwargs: calls.append(1) or parse(*args, **kwargs))
    return calls


def _bytes(ds: pydicom.Dataset) -> bytes:
    out = io.BytesIO()
    ds.save_as(out, enforce_file_format=True)
    return out.getvalue()


def test_turning_deidentification_on_over_dicom_images_is_refused_with_the_reason():
    project = make_project()
    ingest(project, ("a.dcm", generated_ct(HU)), ("b.dcm", generated_ct(HU + 2)))
    client = manager_client(project)

    response = client.patch(f"/api/projects/{project.pk}/", {"dicom_deidentify": True}, format="json")

    assert response.status_code == 400
    reason = response.json()["dicom_deidentify"][0]
    assert "2 DICOM images" in reason and "never rewrites stored originals" in reason
    project.refresh_from_db()
    assert project.dicom_deidentify is False
    # Sending the unchanged value (the project page always sends the checkbox) still saves the rest.
    assert (
        client.patch(
            f"/api/projects/{project.pk}/", {"dicom_deidentify": False, "description": "x"}, format="json"
        ).status_code
        == 200
    )
    # A project with photos only may turn it on.
    photos = make_project()
    make_image(photos)
    assert (
        manager_client(photos)
        .patch(f"/api/projects/{photos.pk}/", {"dicom_deidentify": True}, format="json")
        .status_code
        == 200
    )


@pytest.mark.parametrize(
    "window",
    [
        {"center": 10**400, "width": 5},
        {"center": 40, "width": 10**400},
        {"center": True, "width": 5},
        {"center": 40, "width": True},
    ],
)
def test_bad_window_numbers_are_a_400_not_a_500(window):
    project = make_project()
    response = manager_client(project).patch(
        f"/api/projects/{project.pk}/", data=json.dumps({"dicom_window": window}), content_type="application/json"
    )
    assert response.status_code == 400 and "dicom_window" in response.json(), response.content[:300]
    project.refresh_from_db()
    assert project.dicom_window is None


def test_a_run_that_dies_after_rendering_still_gets_the_embedding_on_redelivery():
    project = make_project()
    ct = ingest(project, ("ct.dcm", generated_ct(HU))).accepted[0]
    project_update(project=project, dicom_window="ct-lung")
    embeddings_table = Embedding._meta.db_table

    def database_down_at_the_embedding_request(execute, sql, params, many, context):
        if sql.lstrip().upper().startswith("INSERT") and embeddings_table in sql:
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)

    with connection.execute_wrapper(database_down_at_the_embedding_request):
        images_render_dicom(project_id=project.pk)  # the image's new key is rolled back with it
    ct.refresh_from_db()
    assert ct.metadata["window_source"] == "file"
    images_render_dicom(project_id=project.pk)  # acks_late redelivery

    ct.refresh_from_db()
    assert ct.metadata["window_source"] == "requested"
    assert Embedding.objects.filter(image_sha256=ct.sha256).exists()
    assert image_with_embedding_status(ct).embedding_status == "pending"


def test_an_upload_holding_a_stale_project_uses_the_window_of_the_moment():
    project = make_project()
    stale = Project.objects.get(pk=project.pk)  # the upload request loaded its project
    project_update(project=project, dicom_window="ct-lung")  # a PATCH commits meanwhile
    images_render_dicom(project_id=project.pk)  # the run found nothing yet

    ct = ingest(stale, ("ct.dcm", generated_ct(HU))).accepted[0]

    assert ct.metadata["window_source"] == "requested"
    assert ct.metadata["window"] == {"center": -600.0, "width": 1500.0}


def test_a_window_change_during_an_upload_starts_another_run(monkeypatch):
    project = make_project()

    def change_window_and_run():  # the upload read the file's window before this
        project_update(project=Project.objects.get(pk=project.pk), dicom_window="ct-lung")
        images_render_dicom(project_id=project.pk)  # that run ends before the upload commits

    with after_each_parse(change_window_and_run, monkeypatch):
        ct = ingest(project, ("ct.dcm", generated_ct(HU))).accepted[0]

    state = Project.objects.get(pk=project.pk).dicom_render_state
    assert ct.metadata["window_source"] == "file" and state["status"] == "queued"
    images_render_dicom(project_id=project.pk, generation=state["generation"])
    ct.refresh_from_db()
    assert ct.metadata["window_source"] == "requested"
    assert Project.objects.get(pk=project.pk).dicom_render_state["status"] == "done"


def test_the_run_loops_until_a_pass_changes_nothing(monkeypatch):
    project = make_project(dicom_window="ct-lung")
    first = ingest(project, ("a.dcm", generated_ct(HU))).accepted[0]
    Project.objects.filter(pk=project.pk).update(dicom_window=None)
    late: list[Image] = []

    def upload_with_the_old_window():  # commits after the run listed the images
        Project.objects.filter(pk=project.pk).update(dicom_window="ct-lung")
        late.extend(ingest(project, ("b.dcm", generated_ct(HU + 2))).accepted)
        Project.objects.filter(pk=project.pk).update(dicom_window=None)

    with after_each_parse(upload_with_the_old_window, monkeypatch):
        images_render_dicom(project_id=project.pk)

    first.refresh_from_db()
    late[0].refresh_from_db()
    assert first.metadata["window_source"] == late[0].metadata["window_source"] == "file"


def test_an_out_of_date_run_stops_and_leaves_the_newer_rendition(monkeypatch):
    project = make_project()
    ct = ingest(project, ("ct.dcm", generated_ct(HU))).accepted[0]
    project_update(project=project, dicom_window="ct-lung")
    old_generation = Project.objects.get(pk=project.pk).dicom_render_state["generation"]
    project_update(project=project, dicom_window="ct-bone")
    new_generation = Project.objects.get(pk=project.pk).dicom_render_state["generation"]
    assert new_generation == old_generation + 1

    images_render_dicom(project_id=project.pk, generation=old_generation)  # the older task runs late
    assert Project.objects.get(pk=project.pk).dicom_render_state["status"] == "queued"  # the newer run owns it
    ct.refresh_from_db()
    assert ct.metadata.get("window_source") == "file"

    images_render_dicom(project_id=project.pk, generation=new_generation)
    ct.refresh_from_db()
    assert ct.metadata["window"] == {"center": 400.0, "width": 1800.0}

    # A run that rendered with a window changed before it saves keeps nothing and writes no file.
    displays_before = set(default_storage.listdir("display")[0])
    Project.objects.filter(pk=project.pk).update(dicom_window="ct-lung")

    def change_window():  # the run read the lung window before it parsed the file
        Project.objects.filter(pk=project.pk).update(dicom_window="ct-brain")

    with after_each_parse(change_window, monkeypatch):
        images_render_dicom(project_id=project.pk)
    assert Project.objects.get(pk=project.pk).dicom_render_state["status"] == "done"
    ct.refresh_from_db()
    assert ct.metadata["window"] == {"center": 400.0, "width": 1800.0}
    assert set(default_storage.listdir("display")[0]) == displays_before


def test_an_image_deleted_during_the_run_is_skipped_quietly(monkeypatch):
    project = make_project()
    gone = ingest(project, ("a.dcm", generated_ct(HU))).accepted[0]
    kept = ingest(project, ("b.dcm", generated_ct(HU + 2))).accepted[0]
    Project.objects.filter(pk=project.pk).update(dicom_window="ct-lung")
    open_stored = default_storage.open

    def delete_then_open(name, *args, **kwargs):
        if name == gone.file.name and Image.objects.filter(pk=gone.pk).exists():
            # Deleted after the run loaded its row, before it read its original.
            image_delete(image=Image.objects.get(pk=gone.pk))
            default_storage.delete(gone.file.name)  # its blobs go once the delete commits
        return open_stored(name, *args, **kwargs)

    monkeypatch.setattr(default_storage, "open", delete_then_open)
    images_render_dicom(project_id=project.pk)
    monkeypatch.undo()

    assert not Image.objects.filter(pk=gone.pk).exists()

    state = Project.objects.get(pk=project.pk).dicom_render_state
    assert state["status"] == "done" and state["error"] == ""
    kept.refresh_from_db()
    assert kept.metadata["window_source"] == "requested"


def test_a_multi_frame_file_is_parsed_once_per_ingest_and_per_rerender(monkeypatch):
    data = enhanced_ct([generated_ct(HU + 2 * k, instance_number=k + 1, series_uid="1.2.3.4") for k in range(6)])
    parses = parse_counter(monkeypatch)
    project = make_project()

    frames = ingest(project, ("multi.dcm", data)).accepted
    assert len(frames) == 6 and len(parses) == 1

    parses.clear()
    project_update(project=project, dicom_window="ct-lung")
    images_render_dicom(project_id=project.pk)
    assert all(Image.objects.get(pk=f.pk).metadata["window_source"] == "requested" for f in frames)
    assert len(parses) == 1


def test_the_render_endpoint_parses_an_original_once_for_many_windows(monkeypatch):
    project = make_project()
    ct = ingest(project, ("ct.dcm", generated_ct(HU))).accepted[0]
    parses = parse_counter(monkeypatch)
    client = manager_client(project)

    pngs = [client.get(f"/api/images/{ct.pk}/render/", {"center": c, "width": 400}) for c in (-200, 40, 300)]

    assert [r.status_code for r in pngs] == [200, 200, 200]
    assert len({r.content for r in pngs}) == 3 and len(parses) == 1


def test_the_parsed_originals_cache_is_bounded_by_bytes():
    project = make_project()
    a, b, c = (ingest(project, (f"{n}.dcm", generated_ct(HU + 2 * n))).accepted[0] for n in range(3))
    # Generated UIDs differ in length, so the files' sizes do too: the bound fits b with either of
    # the others, never all three (a later swap of c for a must fit whichever of the two is larger).
    cache = parsed_originals_cache(b.size_bytes + max(a.size_bytes, c.size_bytes))
    for image in (a, b, c):
        parsed_original(cache, image.file.name)
    assert list(cache) == [b.file.name, c.file.name]
    parsed_original(cache, b.file.name)  # used: c is now the least recently used
    parsed_original(cache, a.file.name)
    assert sorted(cache) == sorted([b.file.name, a.file.name])
    tiny = parsed_originals_cache(1)
    parsed_original(tiny, a.file.name)
    parsed_original(tiny, b.file.name)
    assert list(tiny) == [b.file.name]  # the newest is kept whatever its size


def test_an_identified_file_is_not_stored_once_deidentification_was_turned_on_during_its_upload(monkeypatch):
    project = make_project()

    def switch_on():  # the upload read the setting while it was off; the switch commits (no DICOM yet)
        Project.objects.filter(pk=project.pk).update(dicom_deidentify=True)

    with after_each_parse(switch_on, monkeypatch):
        report = ingest(project, (UPLOAD_PATH, generated_ct(HU)))

    assert report.accepted == [] and "turned on during this upload" in report.rejected[0][1]
    assert not Image.objects.filter(project=project).exists()
