"""Per-image PNG masks: instance and semantic.

  instance/<stem>.png   16-bit grey: 0 background, k = the image's k-th annotation (annotation id order)
  semantic/<stem>.png   8-bit grey (16-bit beyond 255 classes): 0 background, c = label class c
                        (1-based, the project's label-class order, same numbers as COCO category ids)
  instances.csv         file_name,instance,annotation_id,class (one line per instance)
  classes.csv           value,name,color
Where annotations overlap, the later one (higher id) is drawn on top: a PNG holds one value per
pixel, so overlaps are lost here (COCO RLE keeps them).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import PurePosixPath

import numpy as np
from PIL import Image as PILImage

from annotator import geometry
from annotator.exports.rows import AnnotationRow


def mask_file_names(file_name: str) -> tuple[str, str]:
    stem = PurePosixPath(file_name).stem
    return f"instance/{stem}.png", f"semantic/{stem}.png"


def render_masks(
    annotations: Sequence[AnnotationRow], *, class_value: dict[int, int], width: int, height: int
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, int, int]]]:
    """(instance uint16 (h, w), semantic uint16 (h, w), [(instance value, annotation id, class value)])."""
    instance = np.zeros((height, width), dtype=np.uint16)
    semantic = np.zeros((height, width), dtype=np.uint16)
    table: list[tuple[int, int, int]] = []
    for row in annotations:
        if row["label_class_id"] not in class_value:
            continue
        mask = geometry.rle_decode(row["rle"]).astype(bool)
        value = len(table) + 1
        if value > np.iinfo(np.uint16).max:
            raise ValueError("More than 65535 objects in one image do not fit a 16-bit instance PNG.")
        instance[mask] = value
        semantic[mask] = class_value[row["label_class_id"]]
        table.append((value, row["id"], class_value[row["label_class_id"]]))
    return instance, semantic, table


def png_bytes(array: np.ndarray, *, sixteen_bit: bool) -> bytes:
    buffer = io.BytesIO()
    if sixteen_bit:
        PILImage.fromarray(np.ascontiguousarray(array, dtype=np.uint16)).save(buffer, format="PNG")
    else:
        PILImage.fromarray(np.ascontiguousarray(array, dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def read_png(data: bytes) -> np.ndarray:
    return np.asarray(PILImage.open(io.BytesIO(data)))


def classes_csv(label_classes: Sequence[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["value", "name", "color"])
    for value, label_class in enumerate(label_classes, start=1):
        writer.writerow([value, label_class["name"], label_class.get("color", "")])
    return buffer.getvalue()
