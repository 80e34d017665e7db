"""YOLO segmentation in the Ultralytics layout (https://docs.ultralytics.com/datasets/segment/).

  data.yaml            path/train/val and names {index: label class name}
  images/<name>        the display rendition the masks were drawn on
  labels/<stem>.txt    one line per polygon: `class x1 y1 x2 y2 ...`, coordinates divided by the
                       image width/height (0..1); an empty file for an image without objects

What the format cannot hold: holes (dropped) and multi-part objects (each part becomes its own line,
i.e. its own instance). Class indices are 0-based in the project's label-class order. A box
annotation is written as its rectangle (4 points).

YOLO detection ("yolo-detect", https://docs.ultralytics.com/datasets/detect/) has the same layout with
one line per object: `class cx cy w h`, the box centre and size divided by the image width/height; a
mask is written as its bounding box, a box annotation as drawn.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import PurePosixPath

from annotator.exports.coco import outer_rings
from annotator.exports.rows import AnnotationRow


def data_yaml(label_classes: Sequence[dict], *, task: str = "segmentation") -> str:
    # JSON strings are valid YAML double-quoted scalars, so names with ':' or '#' stay safe.
    lines = [
        f"# Ultralytics YOLO {task} dataset exported by SAM Annotator",
        "path: .",
        "train: images",
        "val: images",
        "names:",
    ]
    lines += [f"  {index}: {json.dumps(lc['name'], ensure_ascii=False)}" for index, lc in enumerate(label_classes)]
    return "\n".join(lines) + "\n"


def label_file_name(file_name: str) -> str:
    return f"labels/{PurePosixPath(file_name).stem}.txt"


def yolo_lines(
    annotations: Sequence[AnnotationRow], *, class_index: dict[int, int], width: int, height: int
) -> list[str]:
    """Label lines of one image; annotations of unknown label classes are left out."""
    lines = []
    for row in annotations:
        if row["label_class_id"] not in class_index:
            continue
        for ring in outer_rings(row.get("polygons") or []):
            coords = []
            for x, y in zip(ring[0::2], ring[1::2]):
                coords.append(f"{min(max(x / width, 0.0), 1.0):.6f}")
                coords.append(f"{min(max(y / height, 0.0), 1.0):.6f}")
            lines.append(f"{class_index[row['label_class_id']]} " + " ".join(coords))
    return lines


def parse_yolo_line(line: str, *, width: int, height: int) -> tuple[int, list[float]]:
    """(class index, ring in pixels) from one label line; the inverse of `yolo_lines`."""
    values = line.split()
    if len(values) < 7 or (len(values) - 1) % 2:
        raise ValueError(f"A segmentation line needs a class and at least 3 points: {line!r}")
    numbers = [float(v) for v in values[1:]]
    ring = [v * (width if i % 2 == 0 else height) for i, v in enumerate(numbers)]
    return int(values[0]), ring


def yolo_box_lines(
    annotations: Sequence[AnnotationRow], *, class_index: dict[int, int], width: int, height: int
) -> list[str]:
    """Detection lines of one image (`class cx cy w h`, normalised); unknown label classes left out."""
    lines = []
    for row in annotations:
        if row["label_class_id"] not in class_index or len(row.get("bbox") or []) != 4:
            continue
        x, y, w, h = (float(v) for v in row["bbox"])
        values = ((x + w / 2) / width, (y + h / 2) / height, w / width, h / height)
        lines.append(
            f"{class_index[row['label_class_id']]} " + " ".join(f"{min(max(v, 0.0), 1.0):.6f}" for v in values)
        )
    return lines


def parse_yolo_box_line(line: str, *, width: int, height: int) -> tuple[int, list[float]]:
    """(class index, [x, y, w, h] in pixels) from one detection line; the inverse of `yolo_box_lines`."""
    values = line.split()
    if len(values) != 5:
        raise ValueError(f"A detection line is `class cx cy w h`: {line!r}")
    cx, cy, w, h = (float(v) for v in values[1:])
    return int(values[0]), [(cx - w / 2) * width, (cy - h / 2) * height, w * width, h * height]
