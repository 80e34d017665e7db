"""COCO instances file -> validated annotations (pure: no ORM). Every problem names the annotation id.

What is checked, per annotation: it is an object with an id not seen before; its image_id is an image
entry with a file_name and positive width/height; its category_id names a category; its segmentation is
a compressed or uncompressed RLE whose size is [height, width] of the image, or a list of polygon rings
(at least 3 points, finite, inside the image); the mask is not empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from annotator import geometry


class ImportProblem(ValueError):
    """Why one annotation cannot be imported (the message is shown to the user)."""


@dataclass(frozen=True)
class CocoImageEntry:
    id: Any
    file_name: str
    width: int
    height: int


@dataclass
class CocoDocument:
    images: dict[Any, CocoImageEntry] = field(default_factory=dict)
    categories: dict[Any, str] = field(default_factory=dict)
    annotations: list[dict] = field(default_factory=list)
    # (annotation id or None, reason) for annotations refused while reading the document.
    problems: list[tuple[Any, str]] = field(default_factory=list)


def parse_document(data: Any) -> CocoDocument:
    """Index images and categories; keep annotations that are objects with a new id.

    Raises ImportProblem only when the whole document is unusable (not a COCO instances object).
    """
    if not isinstance(data, dict):
        raise ImportProblem("A COCO file is a JSON object with images, categories and annotations.")
    for key in ("images", "categories", "annotations"):
        if not isinstance(data.get(key), list):
            raise ImportProblem(f'A COCO file needs a list "{key}".')
    document = CocoDocument()
    for entry in data["images"]:
        if not isinstance(entry, dict) or "id" not in entry:
            continue
        name, width, height = entry.get("file_name"), entry.get("width"), entry.get("height")
        if isinstance(name, str) and name and _positive_int(width) and _positive_int(height):
            document.images[entry["id"]] = CocoImageEntry(entry["id"], name, int(width), int(height))  # type: ignore[arg-type]
    for entry in data["categories"]:
        if isinstance(entry, dict) and "id" in entry and isinstance(entry.get("name"), str) and entry["name"].strip():
            document.categories[entry["id"]] = entry["name"].strip()
    seen: set = set()
    for entry in data["annotations"]:
        if not isinstance(entry, dict) or not _hashable_id(entry.get("id")):
            document.problems.append((None, "an annotation without an id (or not an object)"))
            continue
        if entry["id"] in seen:
            document.problems.append((entry["id"], "duplicate annotation id"))
            continue
        seen.add(entry["id"])
        document.annotations.append(entry)
    return document


def _positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def _hashable_id(value: Any) -> bool:
    return (isinstance(value, int) and not isinstance(value, bool)) or (isinstance(value, str) and bool(value))


def annotation_refs(entry: dict, document: CocoDocument) -> tuple[CocoImageEntry, str]:
    """(image entry, category name) of one annotation, or ImportProblem."""
    image = document.images.get(entry.get("image_id"))
    if image is None:
        raise ImportProblem(
            f"image_id {entry.get('image_id')!r} is not an image entry with file_name, width and height"
        )
    category = document.categories.get(entry.get("category_id"))
    if category is None:
        raise ImportProblem(f"category_id {entry.get('category_id')!r} is not a category")
    return image, category


def annotation_geometry(entry: dict, *, width: int, height: int) -> tuple[dict, list | None]:
    """(canonical compressed RLE, our polygons or None) for one annotation in an image of this size.

    COCO polygons are a union of rings without holes; each ring becomes one part of our polygons.
    """
    segmentation = entry.get("segmentation")
    try:
        if isinstance(segmentation, dict):
            size = segmentation.get("size")
            if size != [height, width]:
                raise ImportProblem(f"RLE size {size!r} is not the image's [height, width] [{height}, {width}]")
            rle, polygons = geometry.rle_normalize(segmentation), None
        elif isinstance(segmentation, list) and segmentation:
            # Each COCO ring becomes one part of ours (validate_polygons checks count, finiteness, bounds).
            polygons = geometry.validate_polygons([[ring] for ring in segmentation], width=width, height=height)
            rle = geometry.polygons_to_rle(polygons, width=width, height=height)
        else:
            raise ImportProblem("segmentation must be an RLE object or a non-empty list of polygons")
    except geometry.GeometryError as exc:
        raise ImportProblem(str(exc)) from exc
    if geometry.rle_area(rle) == 0:
        raise ImportProblem("the mask is empty")
    return rle, polygons


def name_keys(file_name: str) -> list[str]:
    """Names to look an image up by, most specific first: as given, then without folders."""
    base = PurePosixPath(file_name.replace("\\", "/")).name
    return [file_name, base] if base != file_name else [file_name]
