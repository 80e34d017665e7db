"""COCO instances: rows -> COCO dict pieces, and a writer that streams the JSON to a file object.

Layout written (https://cocodataset.org/#format-data), plus one documented extra key per entry,
"sam_annotator", which COCO tools ignore (see docs/exports.md):
  images[]:      id (our image id), file_name, width, height,
                 sam_annotator {original_name, dicom {study/series/sop instance uid, frame_index
                 (0-based), frame_number (1-based, DICOM's numbering)}?}
  categories[]:  id 1..N in the project's label-class order, name, supercategory "", sam_annotator {color}
  annotations[]: id (our annotation id), image_id, category_id, iscrowd 0, segmentation (compressed RLE
                 or polygons), area and bbox computed by pycocotools from that segmentation;
                 a box annotation: bbox as drawn, area w*h, segmentation [] (detection only),
                 sam_annotator {source, author, status, label_class_id, kind?, polygon_lost_pixels?, ...}

Memory stays flat: entries are serialised one by one as the row iterators yield them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from typing import IO, Any

import numpy as np
from pycocotools import mask as coco_mask

from annotator.exports.rows import AnnotationRow, ImageRow, export_file_names

SEGMENTATION_MODES = ("rle", "polygon")
EXTRA_KEY = "sam_annotator"
# Image.metadata keys (written by annotator.media for DICOM) -> names in the export.
DICOM_KEYS = {
    "study_uid": "study_instance_uid",
    "series_uid": "series_instance_uid",
    "sop_instance_uid": "sop_instance_uid",
}
_compact = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def coco_categories(label_classes: Sequence[dict]) -> tuple[list[dict], dict[int, int]]:
    """(categories, {label_class_id: category_id}); label_classes are {id, name, color} in project order."""
    categories, category_ids = [], {}
    for number, label_class in enumerate(label_classes, start=1):
        category_ids[label_class["id"]] = number
        categories.append(
            {
                "id": number,
                "name": label_class["name"],
                "supercategory": "",
                EXTRA_KEY: {"color": label_class.get("color", ""), "label_class_id": label_class["id"]},
            }
        )
    return categories, category_ids


def coco_image(image: ImageRow, file_name: str) -> dict:
    extra: dict[str, Any] = {"original_name": image["original_name"]}
    metadata = image.get("metadata") or {}
    dicom: dict[str, Any] = {
        name: metadata[key] for key, name in DICOM_KEYS.items() if metadata.get(key) not in (None, "")
    }
    if dicom and isinstance(metadata.get("frame"), int):
        # Named for what they count: a bare "frame" was 0-based where DICOM's frame numbers start at 1.
        dicom["frame_index"] = metadata["frame"]
        dicom["frame_number"] = metadata["frame"] + 1
    if dicom:
        extra["dicom"] = dicom
    return {
        "id": image["id"],
        "file_name": file_name,
        "width": image["width"],
        "height": image["height"],
        EXTRA_KEY: extra,
    }


def _pycoco_rle(rle: dict) -> dict:
    counts = rle["counts"]
    return {"size": list(rle["size"]), "counts": counts.encode("ascii") if isinstance(counts, str) else counts}


def outer_rings(polygons: list) -> list[list[float]]:
    """COCO polygons are a union of rings with no holes: keep each part's outer ring."""
    return [[float(v) for v in part[0]] for part in polygons if part and len(part[0]) >= 6]


def polygon_segmentation(row: AnnotationRow, height: int, width: int) -> tuple[list, dict, dict]:
    """(COCO polygons, their pycocotools RLE, notes on pixels lost or added versus the stored mask).

    Holes are dropped (COCO polygons cannot hold them), so the exported mask can gain the hole pixels;
    the notes count the difference so a user can see what a polygon export cost.
    """
    rings = outer_rings(row.get("polygons") or [])
    stored = _pycoco_rle(row["rle"])
    if not rings:
        return (
            [],
            coco_mask.encode(np.zeros((height, width), dtype=np.uint8, order="F")),
            {"polygon_lost_pixels": int(coco_mask.area(stored))},
        )
    drawn = coco_mask.merge(coco_mask.frPyObjects(rings, height, width))
    both = int(coco_mask.area(coco_mask.merge([stored, drawn], intersect=True)))
    lost = int(coco_mask.area(stored)) - both
    added = int(coco_mask.area(drawn)) - both
    notes = {}
    if lost:
        notes["polygon_lost_pixels"] = lost
    if added:
        notes["polygon_added_pixels"] = added
    return [[round(v, 2) for v in ring] for ring in rings], drawn, notes


def coco_annotation(row: AnnotationRow, *, category_id: int, height: int, width: int, segmentation: str) -> dict:
    """One COCO annotation; area and bbox are computed by pycocotools from the exported segmentation."""
    extra: dict[str, Any] = {
        "source": row.get("source", ""),
        "author": row.get("author__username"),
        "status": row.get("status", ""),
        "label_class_id": row.get("label_class_id"),
    }
    if row.get("kind") == "box":
        # A plain bounding box: COCO's bbox as drawn, no segmentation ([]), area = w * h.
        box = [round(float(v), 2) for v in row["bbox"]]
        extra["kind"] = "box"
        return {
            "id": row["id"],
            "image_id": row["image_id"],
            "category_id": category_id,
            "iscrowd": 0,
            "segmentation": [],
            "area": round(box[2] * box[3], 2),
            "bbox": box,
            EXTRA_KEY: extra,
        }
    if segmentation == "rle":
        encoded = _pycoco_rle(row["rle"])
        value: Any = {"size": list(row["rle"]["size"]), "counts": row["rle"]["counts"]}
    else:
        value, encoded, notes = polygon_segmentation(row, height, width)
        extra.update(notes)
    return {
        "id": row["id"],
        "image_id": row["image_id"],
        "category_id": category_id,
        "iscrowd": 0,
        "segmentation": value,
        "area": int(coco_mask.area(encoded)),
        "bbox": [round(float(v), 2) for v in coco_mask.toBbox(encoded)],
        EXTRA_KEY: extra,
    }


class _JsonArray:
    """Writes `[a,b,...]` one element at a time."""

    def __init__(self, handle: IO[str]):
        self.handle, self.first = handle, True
        handle.write("[")

    def add(self, value: dict) -> None:
        self.handle.write(("" if self.first else ",") + _compact(value))
        self.first = False

    def close(self) -> None:
        self.handle.write("]")


def write_coco(
    handle: IO[str],
    *,
    info: dict,
    label_classes: Sequence[dict],
    images: Iterable[ImageRow],
    annotations: Iterable[AnnotationRow],
    image_sizes: dict[int, tuple[int, int]] | None = None,
    segmentation: str = "rle",
    on_image: Callable[[ImageRow, str], None] | None = None,
    on_annotation: Callable[[dict], None] | None = None,
) -> dict:
    """Stream a COCO instances file to `handle`; returns counts and totals of polygon losses.

    images and annotations are iterators (e.g. QuerySet.values().iterator()); images are read
    first, recording only (height, width) per image id for the annotation pass. `on_image` is called
    with each image and its file name (to add the pixels to a zip); `on_annotation` after each annotation.
    """
    if segmentation not in SEGMENTATION_MODES:
        raise ValueError(f"segmentation must be one of {SEGMENTATION_MODES}, not {segmentation!r}")
    categories, category_ids = coco_categories(label_classes)
    handle.write('{"info":' + _compact(info) + ',"licenses":[],"categories":' + _compact(categories) + ',"images":')
    sizes: dict[int, tuple[int, int]] = dict(image_sizes or {})
    array = _JsonArray(handle)
    for image, file_name in export_file_names(images):
        sizes[image["id"]] = (image["height"], image["width"])
        array.add(coco_image(image, file_name))
        if on_image:
            on_image(image, file_name)
    array.close()
    handle.write(',"annotations":')
    array = _JsonArray(handle)
    summary = {
        "images": len(sizes),
        "annotations": 0,
        "polygon_lost_pixels": 0,
        "polygon_added_pixels": 0,
        "annotations_changed_by_polygons": 0,
    }
    for row in annotations:
        if row["image_id"] not in sizes or row["label_class_id"] not in category_ids:
            continue
        height, width = sizes[row["image_id"]]
        entry = coco_annotation(
            row, category_id=category_ids[row["label_class_id"]], height=height, width=width, segmentation=segmentation
        )
        extra = entry[EXTRA_KEY]
        if "polygon_lost_pixels" in extra or "polygon_added_pixels" in extra:
            summary["annotations_changed_by_polygons"] += 1
            summary["polygon_lost_pixels"] += extra.get("polygon_lost_pixels", 0)
            summary["polygon_added_pixels"] += extra.get("polygon_added_pixels", 0)
        array.add(entry)
        summary["annotations"] += 1
        if on_annotation:
            on_annotation(entry)
    array.close()
    handle.write("}")
    return summary
