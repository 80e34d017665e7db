"""Issue 14 items 2 and 4, and the burned-in setting: one instance is one image (a second copy with
other bytes is refused, never merged); a DICOMDIR is skipped as an index, not a failure; float pixel
data is imported; ultrasound with burned-in annotation is flagged or refused as the project says."""

from __future__ import annotations

import io
import shutil
import zipfile

import numpy as np
import pydicom
import pytest
from django.core.management import call_command
from pydicom.uid import RLELossless

from annotator.models import Image
from tests.annotator.dicom.samples import dataset_bytes, ingest, shipped_path
from tests.factories import make_project

pytestmark = pytest.mark.django_db


def rle_copy(name: str) -> bytes:
    ds = pydicom.dcmread(shipped_path(name))
    ds.compress(RLELossless, generate_instance_uid=False)  # the same instance, other bytes
    return dataset_bytes(ds)


def test_the_same_instance_with_other_bytes_is_refused_across_uploads():
    project = make_project("Duplicates")
    plain = shipped_path("MR_small.dcm").read_bytes()
    compressed = rle_copy("MR_small.dcm")
    assert plain != compressed
    (first,) = ingest(project, ("mr.dcm", plain)).accepted

    report = ingest(project, ("mr-rle.dcm", compressed))

    assert report.accepted == []
    ((name, reason),) = report.rejected
    assert name == "mr-rle.dcm"
    assert "already in the project as mr.dcm" in reason and "never merged" in reason
    assert first.metadata["sop_instance_uid"] in reason
    assert Image.objects.filter(project=project).count() == 1


def test_the_same_instance_twice_in_one_upload_is_refused():
    project = make_project("Duplicates in one upload")
    report = ingest(project, ("a.dcm", shipped_path("MR_small.dcm").read_bytes()), ("b.dcm", rle_copy("MR_small.dcm")))
    assert len(report.accepted) == 1
    assert report.rejected[0][0] == "b.dcm" and "same DICOM instance as a.dcm" in report.rejected[0][1]


def _cd_export(tmp_path):
    """A CD export: its DICOMDIR and the three series folders it lists (77654033, 98892001, 98892003)."""
    source = shipped_path("dicomdirtests/DICOMDIR").parent
    target = tmp_path / "cd"
    target.mkdir()
    shutil.copy(source / "DICOMDIR", target / "DICOMDIR")
    for folder in ("77654033", "98892001", "98892003"):
        shutil.copytree(source / folder, target / folder)
    return target


def test_a_cd_export_imports_with_the_dicomdir_skipped_as_an_index(tmp_path):
    folder = _cd_export(tmp_path)
    out = io.StringIO()

    call_command("import_images", "--project", "CD", "--create", str(folder), stdout=out)  # exit 0: no error

    lines = out.getvalue().splitlines()
    assert "skipped DICOMDIR: index file (DICOMDIR listing 31 files, imported as files of their own)" in lines
    assert not any(line.startswith("rejected") for line in lines), lines
    assert sum(line.startswith("accepted") for line in lines) == 31


def test_a_dicomdir_in_a_zip_says_which_listed_files_are_missing(tmp_path):
    folder = _cd_export(tmp_path)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.write(folder / "DICOMDIR", "export/DICOMDIR")
        archive.write(folder / "77654033/CR1/6154", "export/77654033/CR1/6154")
    report = ingest(make_project("Zip CD"), ("cd.zip", buffer.getvalue()))

    assert [name for name, _ in report.skipped] == ["cd.zip/export/DICOMDIR"]
    assert "30 of them are not in the archive" in report.skipped[0][1]
    assert report.rejected == [] and len(report.accepted) == 1


def test_float_pixel_data_is_imported_not_called_missing():
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    values = np.linspace(-1.5, 3.0, 24 * 20, dtype=np.float32).reshape(24, 20)
    values[0, 0] = np.nan
    ds = Dataset()
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.30"  # Parametric Map
    ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
    ds.SOPClassUID, ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPClassUID, ds.file_meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.Modality = generate_uid(), generate_uid(), "MR"
    ds.Rows, ds.Columns, ds.SamplesPerPixel, ds.BitsAllocated = 24, 20, 1, 32
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.FloatPixelData = values.tobytes()

    report = ingest(make_project("Float"), ("map.dcm", dataset_bytes(ds)))

    assert report.rejected == []
    (image,) = report.accepted
    assert (image.width, image.height) == (20, 24)
    assert image.metadata["window_source"] == "min-max"


def _ultrasound(burned_in: str | None) -> bytes:
    ds = pydicom.dcmread(shipped_path("examples_palette.dcm"))
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    if burned_in is None:
        ds.pop("BurnedInAnnotation", None)
    else:
        ds.BurnedInAnnotation = burned_in
    return dataset_bytes(ds)


def test_burned_in_ultrasound_is_flagged_by_default_and_refused_when_the_project_says_so():
    flagging = make_project("Flag")
    report = ingest(
        flagging, ("yes.dcm", _ultrasound("YES")), ("no.dcm", _ultrasound("NO")), ("unknown.dcm", _ultrasound(None))
    )
    assert [name for name, _ in report.flagged] == ["yes.dcm", "unknown.dcm"]
    assert "Burned In Annotation is YES" in report.flagged[0][1]
    assert "Burned In Annotation is absent" in report.flagged[1][1]
    flagged = {image.original_name: image.metadata.get("burned_in_annotation_flag") for image in report.accepted}
    assert flagged["no.dcm"] is None and flagged["yes.dcm"]

    refusing = make_project("Refuse", dicom_burned_in="refuse")
    report = ingest(refusing, ("yes.dcm", _ultrasound("YES")), ("no.dcm", _ultrasound("NO")))
    assert [image.original_name for image in report.accepted] == ["no.dcm"]
    assert report.rejected[0][0] == "yes.dcm" and "this project refuses such images" in report.rejected[0][1]
    ct = ingest(refusing, ("ct.dcm", shipped_path("CT_small.dcm").read_bytes()))
    assert ct.rejected == []  # other modalities are not checked (documented limit)
