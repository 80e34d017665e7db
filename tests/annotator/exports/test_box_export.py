"""Box annotations in the exports: COCO bbox as drawn (no segmentation, area w*h) read by
pycocotools and scored by COCOeval; YOLO detection lines (boxes as drawn, masks as their bbox);
YOLO segmentation and PNG masks draw the rectangle."""

import io
import zipfile

import numpy as np
import pytest
from PIL import Image as PILImage
from rest_framework.test import APIClient

from annotator.exports.yolo import parse_yolo_box_line
from annotator.models import AnnotationKind, AnnotationStatus
from annotator.services.annotations import annotation_create
from tests.annotator.exports.conftest import coco_from, run_export


@pytest.fixture
def with_box(dataset):
    first = dataset["images"][0]
    box = annotation_create(
        image=first,
        label_class=dataset["cell"],
        source="manual",
        kind=AnnotationKind.BOX,
        bbox=[10.5, 6.25, 20.0, 12.5],
        author=dataset["annotator"],
        status=AnnotationStatus.APPROVED,
        click_count=1,
    )
    return {**dataset, "box": box}


@pytest.mark.parametrize("segmentation", ["rle", "polygon"])
def test_coco_box_is_a_bbox_without_segmentation(with_box, tmp_path, segmentation):
    coco = coco_from(run_export(with_box["project"], "coco", segmentation=segmentation), tmp_path)
    entry = coco.anns[with_box["box"].pk]
    assert entry["bbox"] == [10.5, 6.25, 20.0, 12.5]
    assert entry["area"] == 250.0 and entry["segmentation"] == [] and entry["iscrowd"] == 0
    assert entry["sam_annotator"]["kind"] == "box"
    assert coco.cats[entry["category_id"]]["name"] == "cell"
    # Masks keep their segmentation beside the box.
    assert coco.annToMask(coco.anns[with_box["hand"].pk]).sum() > 0
    assert "kind" not in coco.anns[with_box["hand"].pk]["sam_annotator"]


def test_cocoeval_bbox_of_the_export_against_itself_gives_ap_one(with_box, tmp_path):
    from pycocotools.cocoeval import COCOeval

    truth = coco_from(run_export(with_box["project"], "coco"), tmp_path)
    detections = [
        {"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 1.0}
        for a in truth.dataset["annotations"]
    ]
    evaluation = COCOeval(truth, truth.loadRes(detections), "bbox")
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0)


def test_yolo_detect_writes_boxes_as_drawn_and_masks_as_their_bbox(with_box):
    data = run_export(with_box["project"], "yolo-detect")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())
        assert {"data.yaml", "images/slide-a.png", "labels/slide-a.txt", "labels/empty.txt"} <= names
        assert "detection" in archive.read("data.yaml").decode()
        lines = archive.read("labels/slide-a.txt").decode().splitlines()
        assert archive.read("labels/empty.txt") == b""
    # slide-a: the hand polygon (cell), the SAM ring (nucleus), the box (cell); 48x32 image.
    boxes = [parse_yolo_box_line(line, width=48, height=32) for line in lines]
    assert len(boxes) == 3
    index, box = boxes[2]
    assert index == 0 and box == pytest.approx([10.5, 6.25, 20.0, 12.5], abs=1e-3)
    hand_bbox = with_box["hand"].bbox
    assert boxes[0][1] == pytest.approx(hand_bbox, abs=1e-3)


def test_yolo_segmentation_and_png_masks_draw_the_rectangle(with_box):
    with zipfile.ZipFile(io.BytesIO(run_export(with_box["project"], "yolo"))) as archive:
        lines = archive.read("labels/slide-a.txt").decode().splitlines()
    assert len(lines[-1].split()) == 9  # class + 4 corners
    with zipfile.ZipFile(io.BytesIO(run_export(with_box["project"], "masks"))) as archive:
        instance = np.array(PILImage.open(io.BytesIO(archive.read("instance/slide-a.png"))))
    box_value = instance[12, 20]
    assert box_value > 0 and instance[6:19, 11:30].min() >= 1


def test_export_api_takes_yolo_detect(with_box):
    client = APIClient()
    client.force_login(with_box["manager"])
    response = client.post(f"/api/projects/{with_box['project'].pk}/exports/", {"format": "yolo-detect"}, format="json")
    assert response.status_code == 202, response.json()
    assert response.json()["format"] == "yolo-detect"
