"""COCO exports read back with pycocotools match what is stored."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from annotator import geometry
from tests.annotator.exports.conftest import coco_from, run_export

pytestmark = pytest.mark.django_db


def stored_mask(annotation) -> np.ndarray:
    return geometry.rle_decode(annotation.rle)


def test_rle_export_reads_back_identical_masks(dataset, tmp_path):
    coco = coco_from(run_export(dataset["project"], "coco", segmentation="rle"), tmp_path)
    exported = {a["id"]: a for a in coco.dataset["annotations"]}
    # Approved only by default: the draft is left out.
    assert set(exported) == {dataset[k].pk for k in ("hand", "sam", "triangle")}
    for key in ("hand", "sam", "triangle"):
        annotation = dataset[key]
        mask = coco.annToMask(exported[annotation.pk])
        assert geometry.mask_iou(mask, stored_mask(annotation)) >= 0.99
        assert np.array_equal(mask, stored_mask(annotation))  # RLE is exact, holes and parts included
        assert exported[annotation.pk]["area"] == int(stored_mask(annotation).sum())
        assert exported[annotation.pk]["bbox"] == geometry.rle_bbox(annotation.rle)
        assert exported[annotation.pk]["iscrowd"] == 0


def test_polygon_export_is_exact_for_hand_drawn_and_notes_lost_holes(dataset, tmp_path):
    coco = coco_from(run_export(dataset["project"], "coco", segmentation="polygon"), tmp_path)
    exported = {a["id"]: a for a in coco.dataset["annotations"]}
    for key in ("hand", "triangle"):
        entry = exported[dataset[key].pk]
        assert isinstance(entry["segmentation"], list)
        assert np.array_equal(coco.annToMask(entry), stored_mask(dataset[key]))
        assert "polygon_lost_pixels" not in entry["sam_annotator"]
    ring = exported[dataset["sam"].pk]
    mask = coco.annToMask(ring)
    stored = stored_mask(dataset["sam"])
    # The hole (6x6 pixels) cannot be held by COCO polygons: filled in, and counted as added pixels.
    assert len(ring["segmentation"]) == 2  # both separate parts kept
    assert int(mask.sum() - stored.sum()) == ring["sam_annotator"]["polygon_added_pixels"] == 36
    assert not np.any(stored & ~mask)  # nothing of the stored mask is lost
    assert ring["area"] == int(mask.sum())


def test_cocoeval_of_the_export_against_itself_gives_ap_one(dataset, tmp_path):
    from pycocotools.cocoeval import COCOeval

    coco = coco_from(run_export(dataset["project"], "coco", segmentation="rle"), tmp_path)
    detections = [dict(a, score=1.0) for a in coco.dataset["annotations"]]
    for detection in detections:
        detection.pop("sam_annotator")
    evaluation = COCOeval(coco, coco.loadRes(detections), iouType="segm")
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0)  # AP@[.5:.95]
    assert evaluation.stats[1] == pytest.approx(1.0)  # AP@.5


def test_categories_images_extras_and_dicom_fields(dataset, tmp_path):
    coco = coco_from(run_export(dataset["project"], "coco", statuses="all"), tmp_path)
    data = coco.dataset
    assert [(c["id"], c["name"]) for c in data["categories"]] == [(1, "cell"), (2, "nucleus")]
    assert len(data["annotations"]) == 4  # "all" includes the draft
    images = {i["id"]: i for i in data["images"]}
    assert len(images) == 3  # images without annotations stay (negatives for training)
    first, second, _ = dataset["images"]
    assert images[first.pk]["file_name"] == "slide-a.png"
    assert images[second.pk]["file_name"] == "ct.png"  # the exported pixels are the PNG rendition
    assert images[second.pk]["sam_annotator"]["dicom"] == {
        "study_instance_uid": "1.2.3",
        "series_instance_uid": "1.2.3.4",
        "sop_instance_uid": "1.2.3.4.5",
        "frame_index": 0,  # 0-based index into the file's frames
        "frame_number": 1,  # DICOM's 1-based frame number
    }
    assert "dicom" not in images[first.pk]["sam_annotator"]
    draft = next(a for a in data["annotations"] if a["id"] == dataset["draft"].pk)
    assert draft["sam_annotator"]["status"] == "draft"
    assert draft["sam_annotator"]["author"] == "annotator-x"
    assert draft["category_id"] == 2
    sam = next(a for a in data["annotations"] if a["id"] == dataset["sam"].pk)
    assert sam["sam_annotator"]["source"] == "sam_click"


def test_label_class_filter_and_duplicate_file_names(dataset, tmp_path):
    from tests.factories import make_image

    make_image(dataset["project"], width=10, height=10, name="slide-a.png")  # same name, other content
    coco = coco_from(run_export(dataset["project"], "coco", label_class_ids=[dataset["nucleus"].pk]), tmp_path)
    assert [c["name"] for c in coco.dataset["categories"]] == ["nucleus"]
    assert {a["id"] for a in coco.dataset["annotations"]} == {dataset["sam"].pk}
    names = [i["file_name"] for i in coco.dataset["images"]]
    assert len(names) == len(set(names)) == 4


def test_with_images_zip_holds_the_display_renditions(dataset, tmp_path):
    data = run_export(dataset["project"], "coco", include_images=True)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())
        assert names == {"annotations.json", "images/slide-a.png", "images/ct.png", "images/empty.png"}
        first = dataset["images"][0]
        assert archive.read("images/slide-a.png") == first.display.open("rb").read()
    assert len(coco_from(data, tmp_path).dataset["images"]) == 3


def test_same_data_gives_the_same_zip_bytes(dataset):
    # Fixed member timestamps: an export's content hash (its storage name) depends only on the data.
    assert run_export(dataset["project"], "masks") == run_export(dataset["project"], "masks")
