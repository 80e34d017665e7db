"""`manage.py export_dataset` and `import_coco`."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.management import CommandError, call_command

from tests.annotator.exports.conftest import coco_from

pytestmark = pytest.mark.django_db


def test_export_dataset_writes_coco_and_zips(dataset, tmp_path):
    out = io.StringIO()
    call_command(
        "export_dataset",
        "--project",
        "Export project",
        "--format",
        "coco",
        "--status",
        "all",
        "--segmentation",
        "polygon",
        "--out",
        str(tmp_path / "c.json"),
        stdout=out,
    )
    assert "annotations 4" in out.getvalue()
    assert len(coco_from((tmp_path / "c.json").read_bytes(), tmp_path).dataset["annotations"]) == 4
    call_command(
        "export_dataset",
        "--project",
        "Export project",
        "--format",
        "yolo",
        "--out",
        str(tmp_path / "y.zip"),
        stdout=io.StringIO(),
    )
    assert "data.yaml" in zipfile.ZipFile(tmp_path / "y.zip").namelist()
    call_command(
        "export_dataset",
        "--project",
        "Export project",
        "--format",
        "coco",
        "--with-images",
        "--out",
        str(tmp_path / "c.zip"),
        stdout=io.StringIO(),
    )
    assert "images/slide-a.png" in zipfile.ZipFile(tmp_path / "c.zip").namelist()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary files left


def test_export_dataset_explains_dicom_seg_without_dicom_sources_and_unknown_names(dataset, tmp_path):
    # The fixture's images are PNGs (one merely named .dcm): no SEG can be made, and the command says why.
    with pytest.raises(CommandError, match="no DICOM SEG could be written"):
        call_command(
            "export_dataset", "--project", "Export project", "--format", "dicom-seg", "--out", str(tmp_path / "x")
        )
    with pytest.raises(CommandError, match="no project named"):
        call_command("export_dataset", "--project", "Nope", "--format", "coco", "--out", str(tmp_path / "x"))
    with pytest.raises(CommandError, match="Unknown format"):
        call_command("export_dataset", "--project", "Export project", "--format", "voc", "--out", str(tmp_path / "x"))


def test_import_coco_command_reports_skipped(dataset, tmp_path):
    call_command(
        "export_dataset",
        "--project",
        "Export project",
        "--format",
        "coco",
        "--out",
        str(tmp_path / "c.json"),
        stdout=io.StringIO(),
    )
    out = io.StringIO()
    with pytest.raises(CommandError, match="3 annotations skipped"):
        call_command("import_coco", str(tmp_path / "c.json"), "--project", "Export project", stdout=out)
    assert out.getvalue().startswith("imported 0\n") and "already imported" in out.getvalue()
