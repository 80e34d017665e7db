"""Files that claim to be DICOM but cannot be used: a clear reason, paired with the file name, and
nothing stored (no row, no blob)."""

from __future__ import annotations

import io
from pathlib import Path

import pydicom
import pytest
from django.conf import settings
from pydicom.encaps import encapsulate
from pydicom.uid import UID

from annotator.models import Image
from tests.annotator.dicom.samples import dataset_bytes, ingest, shipped_bytes
from tests.factories import make_project

pytestmark = pytest.mark.django_db


def with_transfer_syntax(uid: str) -> bytes:
    dataset = pydicom.dcmread(io.BytesIO(shipped_bytes("CT_small.dcm")))
    dataset.file_meta.TransferSyntaxUID = UID(uid)
    dataset.PixelData = encapsulate([dataset.PixelData])  # compressed syntaxes need encapsulated frames
    return dataset_bytes(dataset)


def stored_files() -> list[Path]:
    return [path for path in Path(settings.MEDIA_ROOT).rglob("*") if path.is_file()]


BAD_FILES = [
    (
        "fake.dcm",
        lambda: b"\0" * 128 + b"DICM" + b"not a DICOM data set " * 40,
        "claims to be DICOM (DICM marker) but is not",
    ),
    ("plan.dcm", lambda: shipped_bytes("rtplan.dcm"), "DICOM file without pixel data"),
    (
        "cut.dcm",
        lambda: shipped_bytes("CT_small.dcm")[:-5000],
        "truncated DICOM pixel data: 27,906 bytes where 1 frame(s) of 128x128 need 32,768",
    ),
    ("shipped-truncated.dcm", lambda: shipped_bytes("MR_truncated.dcm"), "truncated DICOM pixel data"),
    (
        "mpeg.dcm",
        lambda: with_transfer_syntax("1.2.840.10008.1.2.4.100"),
        "unsupported DICOM transfer syntax MPEG2 Main Profile / Main Level (1.2.840.10008.1.2.4.100)",
    ),
    ("private-syntax", lambda: with_transfer_syntax("1.2.3.4.5.6"), "unsupported DICOM transfer syntax 1.2.3.4.5.6"),
]


@pytest.mark.parametrize(("name", "make", "reason"), BAD_FILES, ids=[name for name, _, _ in BAD_FILES])
def test_bad_dicom_is_refused_by_name_and_nothing_is_stored(name, make, reason):
    project = make_project()
    report = ingest(project, (name, make()))
    assert report.accepted == []
    assert len(report.rejected) == 1
    rejected_name, rejected_reason = report.rejected[0]
    assert rejected_name == name
    assert rejected_reason.startswith(reason), rejected_reason
    assert Image.objects.count() == 0
    assert stored_files() == []


def test_a_bad_member_of_a_series_zip_does_not_block_the_good_ones():
    import zipfile

    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("series/ct.dcm", shipped_bytes("CT_small.dcm"))
        zf.writestr("series/cut", shipped_bytes("MR_small.dcm")[:-1000])
    report = ingest(make_project(), ("series.zip", archive.getvalue()))
    assert [image.original_name for image in report.accepted] == ["series.zip/series/ct.dcm"]
    assert report.rejected == [
        ("series.zip/series/cut", "truncated DICOM pixel data: 7,330 bytes where 1 frame(s) of 64x64 need 8,192")
    ]
