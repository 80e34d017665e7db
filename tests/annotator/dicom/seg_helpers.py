"""Shared steps of the SEG tests: annotate, export, read back, validate with dciodvfy."""

from __future__ import annotations

import io
import shutil
import subprocess
import zipfile

import highdicom as hd
import numpy as np
import pydicom

from annotator import geometry
from annotator.models import AnnotationSource, AnnotationStatus
from annotator.services.annotations import annotation_create
from annotator.services.exports import export_options_clean, export_write


def square(height: int, width: int, top: int, left: int, size: int) -> np.ndarray:
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[top : top + size, left : left + size] = 1
    return mask


def annotate(image, label_class, mask: np.ndarray, source=AnnotationSource.SAM_CLICK) -> None:
    annotation_create(
        image=image,
        label_class=label_class,
        source=source,
        rle=geometry.rle_encode(mask),
        status=AnnotationStatus.APPROVED,
    )


def export_zip(project) -> tuple[zipfile.ZipFile, dict]:
    options = export_options_clean(project=project, format="dicom-seg", options={"statuses": "all"})
    buffer = io.BytesIO()
    summary = export_write(project=project, format="dicom-seg", options=options, handle=buffer)
    return zipfile.ZipFile(io.BytesIO(buffer.getvalue())), summary


def seg_members(archive: zipfile.ZipFile) -> list[str]:
    return sorted(name for name in archive.namelist() if name.endswith(".dcm"))


def read_seg(data: bytes) -> hd.seg.Segmentation:
    return hd.seg.Segmentation.from_dataset(pydicom.dcmread(io.BytesIO(data)))


def dciodvfy_errors(path, data: bytes) -> list[str]:
    """dciodvfy's Error lines (asserts it is installed: scripts/bootstrap.sh installs dicom3tools)."""
    assert shutil.which("dciodvfy"), "dciodvfy missing: install the Debian package dicom3tools"
    path.write_bytes(data)
    result = subprocess.run(["dciodvfy", str(path)], capture_output=True, text=True, timeout=60)
    return [line for line in (result.stdout + result.stderr).splitlines() if line.startswith("Error")]
