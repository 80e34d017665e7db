"""COCO import: round trip, per-annotation validation with reasons, idempotence."""

from __future__ import annotations

import json

import numpy as np
import pytest

from annotator import geometry
from annotator.models import Annotation, AnnotationSource, AnnotationStatus
from annotator.services.imports import coco_import_annotations
from tests.annotator.exports.conftest import coco_from, run_export
from tests.factories import make_image, make_project

pytestmark = pytest.mark.django_db


def twin_project(dataset):
    """A second project with images of the same names and sizes, and no annotations."""
    project = make_project("Twin", members={dataset["manager"]: "manager"})
    for image in dataset["images"]:
        make_image(project, width=image.width, height=image.height, name=image.original_name)
    return project


@pytest.mark.parametrize("segmentation", ["rle", "polygon"])
def test_export_import_export_round_trip_gives_identical_masks(dataset, tmp_path, segmentation):
    first = json.loads(run_export(dataset["project"], "coco", segmentation=segmentation))
    twin = twin_project(dataset)
    report = coco_import_annotations(project=twin, data=first, user=dataset["manager"])
    assert report.imported == 3 and report.skipped == []
    assert report.created_label_classes == ["cell", "nucleus"]
    imported = Annotation.objects.filter(image__project=twin)
    assert {(a.status, a.source, a.author_id) for a in imported} == {
        (AnnotationStatus.DRAFT, AnnotationSource.IMPORT, dataset["manager"].pk)
    }
    # Imports are drafts: export them all and compare masks image by image, class by class.
    second = coco_from(run_export(twin, "coco", segmentation=segmentation, statuses="all"), tmp_path, "second.json")
    original = coco_from(json.dumps(first).encode(), tmp_path, "first.json")

    def masks(coco):
        names = {i["id"]: i["file_name"] for i in coco.dataset["images"]}
        categories = {c["id"]: c["name"] for c in coco.dataset["categories"]}
        return sorted(
            (names[a["image_id"]], categories[a["category_id"]], coco.annToMask(a).tobytes())
            for a in coco.dataset["annotations"]
        )

    assert masks(second) == masks(original)


def test_import_is_idempotent(dataset):
    data = json.loads(run_export(dataset["project"], "coco"))
    twin = twin_project(dataset)
    assert coco_import_annotations(project=twin, data=data, user=None).imported == 3
    again = coco_import_annotations(project=twin, data=data, user=None)
    assert again.imported == 0
    assert {item["reason"] for item in again.skipped} == {
        "already imported: the same mask and label class exist on this image"
    }


def test_bad_annotations_are_reported_by_id_and_the_rest_imported(dataset):
    data = json.loads(run_export(dataset["project"], "coco"))
    twin = twin_project(dataset)
    good = data["annotations"][0]
    image_id = good["image_id"]
    size = next([i["height"], i["width"]] for i in data["images"] if i["id"] == image_id)
    bad = [
        dict(good, id=901, image_id=424242),
        dict(good, id=902, category_id=99),
        dict(good, id=903, segmentation={"size": [5, 5], "counts": "25"}),
        dict(good, id=904, segmentation={"size": size, "counts": "not an rle ~~~"}),
        dict(good, id=905, segmentation=[[1, 2, 3]]),
        dict(good, id=906, segmentation=[[0, 0, 1e6, 0, 1e6, 5]]),
        dict(good, id=907, segmentation={"size": size, "counts": [size[0] * size[1]]}),  # empty mask
        dict(good, id=908, segmentation="circle"),
        dict(good, id=901),  # duplicate id
        "not an object",
    ]
    data["annotations"] += bad
    data["images"].append({"id": 555, "file_name": "missing.png", "width": 10, "height": 10})
    data["images"].append({"id": 556, "file_name": "slide-a.png", "width": 11, "height": 10})
    data["annotations"] += [dict(good, id=909, image_id=555), dict(good, id=910, image_id=556)]
    report = coco_import_annotations(project=twin, data=data, user=None)
    assert report.imported == 3
    reasons = {item["id"]: item["reason"] for item in report.skipped}
    assert set(reasons) == {None, 901, 902, 903, 904, 905, 906, 907, 908, 909, 910}
    assert "424242" in reasons[901] or reasons[901] == "duplicate annotation id"
    assert "category_id 99" in reasons[902]
    assert "RLE size [5, 5]" in reasons[903]
    assert "Invalid RLE" in reasons[904]
    assert "at least 3 points" in reasons[905]
    assert "outside the image" in reasons[906]
    assert reasons[907] == "the mask is empty"
    assert "RLE object or a non-empty list" in reasons[908]
    assert "no image named 'missing.png'" in reasons[909]
    assert "11x10 in the file" in reasons[910]


def test_a_document_that_is_not_coco_is_refused_whole(dataset):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="images"):
        coco_import_annotations(project=dataset["project"], data={"annotations": []}, user=None)


def test_uncompressed_rle_and_folder_paths_are_accepted(dataset):
    twin = twin_project(dataset)
    mask = np.zeros((32, 48), dtype=np.uint8)
    mask[2:6, 3:9] = 1
    runs, value, count = [], 0, 0
    for pixel in mask.flatten(order="F"):
        if pixel != value:
            runs.append(count)
            value, count = pixel, 0
        count += 1
    runs.append(count)
    data = {
        "images": [{"id": 1, "file_name": "some/folder/slide-a.png", "width": 48, "height": 32}],
        "categories": [{"id": 7, "name": "cell"}],
        "annotations": [
            {
                "id": 1,
                "image_id": 1,
                "category_id": 7,
                "iscrowd": 1,
                "segmentation": {"size": [32, 48], "counts": [int(r) for r in runs]},
            }
        ],
    }
    report = coco_import_annotations(project=twin, data=data, user=None)
    assert report.imported == 1, report.skipped
    annotation = Annotation.objects.get(image__project=twin)
    assert np.array_equal(geometry.rle_decode(annotation.rle), mask)
    assert annotation.area == 24 and annotation.bbox == [3.0, 2.0, 6.0, 4.0]
    assert np.array_equal(geometry.polygons_to_mask(annotation.polygons, width=48, height=32), mask)
