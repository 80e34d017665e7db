"""De-identification on upload (Project.dicom_deidentify): the stored original is the de-identified
copy, every action of the PS3.15 Table E.1-1 profile (annotator/dicom/deid_profile.py) holds on it, pixels are unchanged, and the patient's
name and ID appear nowhere: not in logs, Image.metadata, API responses nor URLs."""

from __future__ import annotations

import hashlib
import io
import json
import logging

import numpy as np
import pydicom
import pytest
from django.core.files.storage import default_storage
from rest_framework.test import APIClient

from annotator.dicom import deidentify as dicom_deid
from annotator.dicom.deid_profile import PROFILE
from annotator.models import Role
from tests.annotator.dicom.samples import dataset_bytes, ingest, shipped_path
from tests.factories import make_project, make_user

pytestmark = pytest.mark.django_db

PATIENT_NAME = "Doe^Janet^Quincy"
PATIENT_ID = "MRN-77310042"


def identified_ct() -> bytes:
    """pydicom's CT_small with every kind of identifying data the action list names, private
    elements at the top level and inside a sequence, and an overlay."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    ds = pydicom.dcmread(shipped_path("CT_small.dcm"))
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = PATIENT_NAME, PATIENT_ID, "19700402"
    ds.OtherPatientIDs, ds.PatientAddress, ds.PatientTelephoneNumbers = "OTHER-1", "1 Main St", "555-0100"
    ds.PatientAge, ds.PatientSex, ds.PatientWeight = "055Y", "F", 61.5
    ds.InstitutionName, ds.InstitutionAddress, ds.StationName = "St Example", "2 Hospital Rd", "CT01"
    ds.ReferringPhysicianName, ds.PerformingPhysicianName, ds.OperatorsName = "Ref^Doc", "Perf^Doc", "Op^Tech"
    ds.AccessionNumber, ds.StudyID = "ACC-991", "STUDY-7"
    ds.StudyDate, ds.SeriesDate, ds.AcquisitionDate, ds.ContentDate = "20240102", "20240102", "20240102", "20240102"
    ds.StudyDescription, ds.ImageComments = f"CT for {PATIENT_NAME}", f"patient {PATIENT_ID}"
    item = Dataset()
    item.PatientName = PATIENT_NAME  # identifying data nested in a sequence
    item.add_new(0x00111010, "LO", PATIENT_ID)  # a private element inside the item
    ds.ReferencedPatientSequence = Sequence([Dataset()])
    ds.add_new(0x00400275, "SQ", Sequence([item]))  # Request Attributes Sequence
    ds.ProcedureCodeSequence = Sequence([item.copy()])  # kept sequence: its items are cleaned
    ds.add_new(0x00091010, "LO", f"priv {PATIENT_NAME}")
    ds.add_new(0x60003000, "OW", b"\x00" * 16)  # overlay data
    return dataset_bytes(ds)


def stored_dataset(image) -> pydicom.Dataset:
    with default_storage.open(image.file.name, "rb") as handle:
        return pydicom.dcmread(io.BytesIO(handle.read()))


def test_stored_original_is_deidentified_and_every_listed_action_holds(caplog):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("pydicom").setLevel(logging.DEBUG)
    source = identified_ct()
    project = make_project(dicom_deidentify=True)

    report = ingest(project, ("scan.dcm", source))

    assert report.rejected == []
    image = report.accepted[0]
    stored = stored_dataset(image)
    original = pydicom.dcmread(io.BytesIO(source))
    for keyword, code in PROFILE.items():
        action = dicom_deid.resolved_action(code, keyword, enhanced=False)
        if action == "X":
            assert keyword not in stored, keyword
        elif action == "Z" and keyword in original:
            assert keyword in stored and stored[keyword].value in (None, "", []), keyword
        elif action == "K" and keyword in original and original[keyword].VR != "SQ":
            assert stored[keyword].value == original[keyword].value, keyword
    assert not any(element.tag.is_private for element in stored.iterall())
    assert not any(0x6000 <= element.tag.group <= 0x60FF for element in stored.iterall())
    assert stored.ProcedureCodeSequence[0].get("PatientName") in (None, "")
    assert stored.PatientIdentityRemoved == "YES"
    assert stored.DeidentificationMethod == dicom_deid.DEIDENTIFICATION_METHOD
    assert [c.CodeValue for c in stored.DeidentificationMethodCodeSequence] == ["113100", "113110"]
    # UIDs kept (Retain UIDs Option), pixels unchanged, transfer syntax kept.
    for uid in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "FrameOfReferenceUID"):
        assert stored[uid].value == original[uid].value
    assert stored.file_meta.TransferSyntaxUID == original.file_meta.TransferSyntaxUID
    assert stored.PixelData == original.PixelData
    np.testing.assert_array_equal(stored.pixel_array, original.pixel_array)
    # The whole stored file, the row and its API views hold neither the name nor the ID.
    raw = default_storage.open(image.file.name, "rb").read()
    for secret in (PATIENT_NAME, PATIENT_ID, "Doe", "19700402", "St Example"):
        assert secret.encode() not in raw, secret
    assert image.sha256 != hashlib.sha256(source).hexdigest()  # the key is of the stored copy
    manager = make_user()
    project.memberships.create(user=manager, role=Role.MANAGER)
    client = APIClient()
    client.force_authenticate(manager)
    detail = client.get(f"/api/images/{image.pk}/")
    listing = client.get(f"/api/projects/{project.pk}/images/")
    original_download = client.get(f"/api/images/{image.pk}/file/?original=1")
    assert detail.status_code == listing.status_code == original_download.status_code == 200
    original_bytes = b"".join(original_download.streaming_content)
    everything = json.dumps(image.metadata) + detail.content.decode() + listing.content.decode()
    urls = [
        image.file.url,
        image.display.url,
        image.thumbnail.url,
        detail.json().get("file_url", ""),
        detail.json().get("thumbnail_url", ""),
    ]
    for secret in (PATIENT_NAME, PATIENT_ID, "Doe", "Janet"):
        assert secret not in everything, secret
        assert all(secret not in str(url) for url in urls), secret
        assert secret.encode() not in original_bytes
        assert all(secret not in record.getMessage() for record in caplog.records), secret
    assert caplog.records, "the capture must have seen the ingest's log lines for the check to mean anything"


def test_invalid_values_that_pydicom_logs_are_redacted(caplog):
    """pydicom's validation logs a bad value verbatim; once a DICOM file was read, its logger redacts."""
    import warnings

    from pydicom import config
    from pydicom.valuerep import validate_value

    ingest(make_project(dicom_deidentify=True), ("scan.dcm", identified_ct()))  # installs the filter
    caplog.clear()
    caplog.set_level(logging.DEBUG)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        validate_value("DA", PATIENT_ID, config.WARN)  # "Invalid value for VR DA: '<value>'"

    messages = [record.getMessage() for record in caplog.records]
    assert any("Invalid value for VR DA" in message for message in messages), messages
    assert all(PATIENT_ID not in message for message in messages)


def test_names_stay_out_of_logs_when_a_deidentified_upload_is_refused(caplog):
    caplog.set_level(logging.DEBUG)
    data = identified_ct()
    cut = data[: len(data) - 20_000]  # truncated pixel data: refused after de-identification
    project = make_project(dicom_deidentify=True)

    report = ingest(project, ("scan.dcm", cut))

    assert report.accepted == [] and "truncated" in report.rejected[0][1]
    for secret in (PATIENT_NAME, PATIENT_ID):
        assert all(secret not in record.getMessage() for record in caplog.records)
        assert secret not in report.rejected[0][1]


def test_without_the_setting_the_original_is_stored_byte_for_byte():
    source = identified_ct()
    image = ingest(make_project(), ("scan.dcm", source)).accepted[0]
    assert default_storage.open(image.file.name, "rb").read() == source
    assert PATIENT_NAME not in json.dumps(image.metadata)  # metadata never copies patient fields anyway


def test_raw_data_set_is_deidentified_and_stays_raw():
    ds = pydicom.dcmread(io.BytesIO(identified_ct()))
    del ds.file_meta
    ds.preamble = None
    buffer = io.BytesIO()
    pydicom.dcmwrite(buffer, ds, implicit_vr=True, little_endian=True, enforce_file_format=False)

    result = dicom_deid.deidentify(buffer.getvalue())

    assert result[128:132] != b"DICM" and PATIENT_NAME.encode() not in result
    back = pydicom.dcmread(io.BytesIO(result), force=True)
    assert back.PatientName == "" and back.PatientIdentityRemoved == "YES"


def test_unreadable_file_is_a_clear_refusal():
    with pytest.raises(dicom_deid.DeidentificationError, match="cannot be read"):
        dicom_deid.deidentify(b"\x00" * 128 + b"DICM" + b"\x02\x00\x10\x00UI")
    garbage = ingest(make_project(dicom_deidentify=True), ("fake.dcm", b"\x00" * 128 + b"DICM" + b"junk" * 50))
    assert garbage.accepted == [] and "cannot be read for de-identification" in garbage.rejected[0][1]


def test_manager_turns_it_on_through_the_api_and_others_cannot():
    manager, annotator = make_user(), make_user()
    project = make_project(members={manager: Role.MANAGER, annotator: Role.ANNOTATOR})
    client = APIClient()
    client.force_authenticate(annotator)
    assert client.patch(f"/api/projects/{project.pk}/", {"dicom_deidentify": True}, format="json").status_code == 403
    client.force_authenticate(manager)
    response = client.patch(f"/api/projects/{project.pk}/", {"dicom_deidentify": True}, format="json")
    assert response.status_code == 200 and response.json()["dicom_deidentify"] is True
    project.refresh_from_db()
    assert project.dicom_deidentify is True
    bad = client.patch(f"/api/projects/{project.pk}/", {"dicom_deidentify": "maybe"}, format="json")
    assert bad.status_code == 400 and "dicom_deidentify" in bad.json()


def test_docs_show_exactly_the_action_list():
    from pathlib import Path

    docs = (Path(__file__).resolve().parents[3] / "docs" / "dicom.md").read_text()
    assert dicom_deid.actions_markdown() in docs
