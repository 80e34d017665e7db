"""YOLO labels and PNG masks parsed back into masks match what is stored."""

from __future__ import annotations

import io
import zipfile

import numpy as np
import pytest

from annotator import geometry
from annotator.exports.masks import read_png
from annotator.exports.yolo import parse_yolo_line
from tests.annotator.exports.conftest import run_export

pytestmark = pytest.mark.django_db


def test_yolo_layout_and_labels_parse_back_into_the_stored_masks(dataset):
    with zipfile.ZipFile(io.BytesIO(run_export(dataset["project"], "yolo"))) as archive:
        names = set(archive.namelist())
        assert {
            "data.yaml",
            "images/slide-a.png",
            "images/ct.png",
            "images/empty.png",
            "labels/slide-a.txt",
            "labels/ct.txt",
            "labels/empty.txt",
        } == names
        yaml_text = archive.read("data.yaml").decode()
        assert 'names:\n  0: "cell"\n  1: "nucleus"\n' in yaml_text
        assert archive.read("labels/empty.txt") == b""
        first, second, _ = dataset["images"]
        parsed = {}
        for image, stem in ((first, "slide-a"), (second, "ct")):
            lines = archive.read(f"labels/{stem}.txt").decode().splitlines()
            parsed[stem] = [parse_yolo_line(line, width=image.width, height=image.height) for line in lines]
    # Hand-drawn polygons come back exactly (6-decimal normalised coordinates).
    (cls, ring), *rest = parsed["slide-a"]
    assert cls == 0
    hand = geometry.polygons_to_mask([[ring]], width=48, height=32)
    assert np.array_equal(hand, geometry.rle_decode(dataset["hand"].rle))
    # The SAM mask: two parts -> two lines of class 1; its hole is dropped (documented).
    assert [c for c, _ in rest] == [1, 1]
    union = geometry.polygons_to_mask([[r] for _, r in rest], width=48, height=32)
    stored = geometry.rle_decode(dataset["sam"].rle)
    assert int(union.sum() - stored.sum()) == 36 and not np.any(stored & ~union)
    # Approved only: the draft on the second image is not there.
    assert [c for c, _ in parsed["ct"]] == [0]
    triangle = geometry.polygons_to_mask([[parsed["ct"][0][1]]], width=40, height=30)
    assert geometry.mask_iou(triangle, geometry.rle_decode(dataset["triangle"].rle)) >= 0.99


def test_masks_export_instance_and_semantic_pngs(dataset):
    with zipfile.ZipFile(io.BytesIO(run_export(dataset["project"], "masks", statuses="all"))) as archive:
        names = set(archive.namelist())
        assert {
            "classes.csv",
            "instances.csv",
            "instance/slide-a.png",
            "semantic/slide-a.png",
            "instance/ct.png",
            "semantic/ct.png",
            "instance/empty.png",
            "semantic/empty.png",
        } == names
        instance = read_png(archive.read("instance/slide-a.png"))
        semantic = read_png(archive.read("semantic/slide-a.png"))
        table = archive.read("instances.csv").decode().splitlines()
        classes = archive.read("classes.csv").decode().splitlines()
        assert not read_png(archive.read("instance/empty.png")).any()
    assert instance.dtype == np.uint16 and instance.shape == (32, 48)
    assert classes == ["value,name,color", "1,cell,#ff0000", "2,nucleus,#00ff00"]
    assert table[0] == "file_name,instance,annotation_id,class"
    assert f"slide-a.png,1,{dataset['hand'].pk},1" in table and f"slide-a.png,2,{dataset['sam'].pk},2" in table
    hand = geometry.rle_decode(dataset["hand"].rle).astype(bool)
    sam = geometry.rle_decode(dataset["sam"].rle).astype(bool)
    # Instance 2 (the later annotation) is drawn over instance 1 where they overlap.
    assert np.array_equal(instance == 2, sam)
    assert np.array_equal(instance == 1, hand & ~sam)
    assert np.array_equal(semantic == 2, sam) and np.array_equal(semantic == 1, hand & ~sam)
    assert not instance[~(hand | sam)].any()
