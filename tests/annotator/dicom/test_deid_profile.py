"""Issue 14 item 3: de-identification to the PS3.15 Basic Profile (Table E.1-1) with the Retain UIDs
Option. Method within LO's 64 characters, results valid (dciodvfy adds no error to the source's),
Type 1 attributes of enhanced multi-frame files kept with dummies, the profile's gaps closed, and a
leak test: every profile attribute planted in a file is found nowhere afterwards (stored files,
SEG, COCO, logs, database rows)."""

from __future__ import annotations

import io
import json
import logging
import zipfile

import numpy as np
import pydicom
import pytest
from django.core.files.storage import default_storage
from pydicom.datadict import dictionary_VR, tag_for_keyword

from annotator.dicom import deidentify as dicom_deid
from annotator.dicom.deid_profile import PROFILE
from annotator.models import Annotation, Export, Image
from annotator.services.exports import export_options_clean, export_write
from tests.annotator.dicom.samples import dataset_bytes, enhanced_ct, generated_ct, ingest, shipped_path
from tests.annotator.dicom.seg_helpers import annotate, dciodvfy_errors, export_zip, seg_members, square
from tests.factories import make_label_class, make_project

pytestmark = pytest.mark.django_db


def new_errors(tmp_path, source: bytes, result: bytes) -> list[str]:
    before = set(dciodvfy_errors(tmp_path / "source.dcm", source))
    return [line for line in dciodvfy_errors(tmp_path / "result.dcm", result) if line not in before]


def test_method_fits_lo_and_a_deidentified_ct_adds_no_dciodvfy_error(tmp_path):
    assert len(dicom_deid.DEIDENTIFICATION_METHOD) <= 64
    ds = pydicom.dcmread(shipped_path("CT_small.dcm"))
    ds.PatientName, ds.InstitutionName, ds.StudyDate, ds.ContentDate = "Doe^Jane", "St Example", "20240102", "20240102"
    source = dataset_bytes(ds)

    result = dicom_deid.deidentify(source)

    assert new_errors(tmp_path, source, result) == []
    assert pydicom.dcmread(io.BytesIO(result)).DeidentificationMethod == dicom_deid.DEIDENTIFICATION_METHOD


def test_enhanced_multi_frame_keeps_its_type1_attributes_as_dummies(tmp_path):
    slices = [generated_ct(np.full((16, 16), 2 * k, dtype=np.int32), instance_number=k + 1) for k in range(3)]
    ds = pydicom.dcmread(io.BytesIO(enhanced_ct(slices)))
    ds.ContentDate, ds.ContentTime, ds.AcquisitionDateTime = "20240102", "101010", "20240102101010"
    ds.DeviceSerialNumber = "SN-4471"
    source = dataset_bytes(ds)

    result = pydicom.dcmread(io.BytesIO(dicom_deid.deidentify(source)))

    assert result.ContentDate == "19000101" and result.ContentTime == "000000"
    assert result.AcquisitionDateTime == "19000101000000" and result.DeviceSerialNumber == "ANONYMOUS"
    assert new_errors(tmp_path, source, dataset_bytes(result)) == []


def test_the_profile_gaps_are_closed():
    ds = pydicom.dcmread(shipped_path("CT_small.dcm"))
    planted = {
        "IdentifyingComments": "GAP-IDC",
        "StudyComments": "GAP-STC",
        "InsurancePlanIdentification": "GAP-INS",
        "ClinicalTrialSponsorName": "GAP-SPONSOR",
        "ClinicalTrialSiteID": "GAP-SITE",
        "ClinicalTrialSubjectID": "GAP-SUBJ",
        "ConfidentialityConstraintOnPatientDataDescription": "GAP-CONF",
    }
    for keyword, value in planted.items():
        setattr(ds, keyword, value)
    ds.file_meta.PrivateInformationCreatorUID = "1.2.3.4"
    ds.file_meta.PrivateInformation = b"GAP-PRIVINFO"
    result = dicom_deid.deidentify(dataset_bytes(ds))
    for value in [*planted.values(), "GAP-PRIVINFO"]:
        assert value.encode() not in result, value


def planted_file() -> tuple[bytes, list[str]]:
    """CT_small with a distinct value in every text, name and date attribute of the profile that is
    not a UID (kept by the Retain UIDs Option), and a sequence item holding a name."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    ds = pydicom.dcmread(shipped_path("CT_small.dcm"))
    secrets = []
    for number, (keyword, code) in enumerate(sorted(PROFILE.items())):
        if "U" in code or tag_for_keyword(keyword) is None:
            continue
        vr = dictionary_VR(tag_for_keyword(keyword))
        if vr in ("LO", "SH", "PN", "LT", "ST", "UT", "UC"):
            value = f"LEAK{number:03d}Q"
        elif vr == "DA":
            value = f"1{number:03d}0517"
        else:
            continue
        setattr(ds, keyword, value)
        secrets.append(value)
    item = Dataset()
    item.PatientID = "LEAKSEQID"
    ds.OtherPatientIDsSequence = Sequence([item])
    secrets.append("LEAKSEQID")
    return dataset_bytes(ds), secrets


def test_leak_test_planted_profile_values_appear_nowhere(caplog, capsys):
    caplog.set_level(logging.DEBUG)
    logging.getLogger("pydicom").setLevel(logging.DEBUG)
    source, secrets = planted_file()
    assert len(secrets) > 100
    assert all(secret.encode() in source for secret in secrets)  # really planted
    project = make_project("Leak test", dicom_deidentify=True)
    organ = make_label_class(project, "organ")
    (image,) = ingest(project, ("LEAK-folder/scan.dcm", source)).accepted
    annotate(image, organ, square(128, 128, 10, 10, 40))

    seg_archive, seg_summary = export_zip(project)
    assert seg_summary["segmentations"] == 1
    coco_buffer = io.BytesIO()
    options = export_options_clean(project=project, format="coco", options={"statuses": "all", "include_images": True})
    export_write(project=project, format="coco", options=options, handle=coco_buffer)

    blobs = b""
    for field in ("file", "display", "thumbnail"):
        with default_storage.open(getattr(image, field).name, "rb") as handle:
            blobs += handle.read()
    seg_bytes = b"".join(seg_archive.read(name) for name in seg_members(seg_archive))
    coco_bytes = b"".join(zipfile.ZipFile(coco_buffer).read(name) for name in zipfile.ZipFile(coco_buffer).namelist())
    rows = json.dumps(
        [list(Image.objects.values()), list(Annotation.objects.values()), list(Export.objects.values())],
        default=str,
    )
    captured = capsys.readouterr()
    logs = caplog.text + captured.out + captured.err
    for secret in secrets:
        for where, content in (("stored files", blobs), ("SEG", seg_bytes), ("COCO", coco_bytes)):
            assert secret.encode() not in content, (secret, where)
        assert secret not in rows, (secret, "database rows")
        assert secret not in logs, (secret, "logs")
