"""A small project exercising everything an export must keep: hand-drawn polygons, a SAM mask with a
hole and two separate parts, several label classes and statuses, a DICOM-derived image."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

from annotator import geometry
from annotator.models import AnnotationSource, AnnotationStatus
from annotator.services.exports import export_options_clean, export_write
from tests.factories import make_annotation, make_image, make_label_class, make_project, make_user


def ring_mask(width: int, height: int) -> np.ndarray:
    """Two parts: a ring (square with a square hole) and a separate blob — what polygons cannot hold."""
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[4:20, 4:20] = 1
    mask[9:15, 9:15] = 0
    mask[25:29, 30:38] = 1
    return mask


@pytest.fixture
def dataset(db):
    users = {role: make_user(f"{role}-x") for role in ["manager", "annotator", "reviewer"]}
    project = make_project("Export project", members={user: role for role, user in users.items()})
    cell = make_label_class(project, "cell", color="#ff0000", order=0)
    nucleus = make_label_class(project, "nucleus", color="#00ff00", order=1)
    first = make_image(project, width=48, height=32, name="slide-a.png")
    second = make_image(
        project,
        width=40,
        height=30,
        name="ct.dcm",
        metadata={"study_uid": "1.2.3", "series_uid": "1.2.3.4", "sop_instance_uid": "1.2.3.4.5", "frame": 0},
    )
    empty = make_image(project, width=20, height=20, name="empty.png")
    approved = AnnotationStatus.APPROVED
    hand = make_annotation(
        first,
        label_class=cell,
        author=users["annotator"],
        status=approved,
        polygons=[[[2.0, 3.0, 30.5, 4.0, 25.0, 20.0, 6.0, 18.5]]],
    )
    mask = ring_mask(48, 32)
    rle = geometry.rle_encode(mask)
    sam = make_annotation(
        first,
        label_class=nucleus,
        author=users["annotator"],
        status=approved,
        source=AnnotationSource.SAM_CLICK,
        polygons=geometry.mask_to_polygons(mask),
    )
    # make_annotation derives the RLE from the polygons; the traced polygons give back the same mask.
    assert sam.rle == rle
    triangle = make_annotation(
        second,
        label_class=cell,
        author=users["manager"],
        status=approved,
        polygons=[[[1.0, 1.0, 35.0, 2.0, 10.0, 28.0]]],
    )
    draft = make_annotation(
        second,
        label_class=nucleus,
        author=users["annotator"],
        status=AnnotationStatus.DRAFT,
        polygons=[[[20.0, 10.0, 30.0, 10.0, 30.0, 20.0, 20.0, 20.0]]],
    )
    return {
        **users,
        "project": project,
        "cell": cell,
        "nucleus": nucleus,
        "images": [first, second, empty],
        "hand": hand,
        "sam": sam,
        "triangle": triangle,
        "draft": draft,
    }


def run_export(project, format: str, **options) -> bytes:
    clean = export_options_clean(project=project, format=format, options=options)
    buffer = io.BytesIO()
    export_write(project=project, format=format, options=clean, handle=buffer)
    return buffer.getvalue()


def coco_from(data: bytes, tmp_path, name: str = "coco.json"):
    """pycocotools' own loader on a real file, as a user of the export would run it."""
    from pycocotools.coco import COCO

    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            data = archive.read("annotations.json")
    path = tmp_path / name
    path.write_bytes(data)
    json.loads(data)  # valid JSON on its own, before pycocotools
    return COCO(str(path))
