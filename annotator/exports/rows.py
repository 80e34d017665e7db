"""Shapes shared by the writers: the image and annotation rows they read, and file naming."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import PurePosixPath
from typing import TypedDict


class ImageRow(TypedDict, total=False):
    id: int
    original_name: str
    width: int
    height: int
    display: str  # storage name of the 8-bit rendition the annotations were drawn on
    file: str  # storage name of the original upload
    format: str
    metadata: dict


class AnnotationRow(TypedDict, total=False):
    id: int
    image_id: int
    label_class_id: int
    rle: dict
    polygons: list
    kind: str  # "mask" or "box"
    bbox: list  # [x, y, w, h]: the box as drawn for a box, derived from the mask otherwise
    source: str
    status: str
    author__username: str | None
    created_at: object
    updated_at: object


def export_file_names(images: Iterable[ImageRow]) -> Iterator[tuple[ImageRow, str]]:
    """(image, file name in the export) for each image, unique within the export.

    The name keeps the uploaded name's stem but takes the display rendition's extension, because
    the exported pixels are the rendition (EXIF applied, DICOM windowed) the masks were drawn on.
    A repeated name gets the image id appended, so the same images always get the same names.
    """
    taken: set[str] = set()
    for image in images:
        stem = PurePosixPath(image["original_name"].replace("\\", "/")).stem or f"image-{image['id']}"
        suffix = PurePosixPath(image.get("display") or image["original_name"]).suffix.lower() or ".png"
        name = f"{stem}{suffix}"
        if name.lower() in taken:
            name = f"{stem}-{image['id']}{suffix}"
        taken.add(name.lower())
        yield image, name


def group_by_image(
    images: Iterable[ImageRow], annotations: Iterable[AnnotationRow]
) -> Iterator[tuple[ImageRow, list[AnnotationRow]]]:
    """Merge two streams both ordered by image id: each image with its annotations.

    Only one image's annotations are held at a time, so memory does not grow with the project.
    Annotations of images missing from `images` are skipped.
    """
    pending = iter(annotations)
    current = next(pending, None)
    for image in images:
        while current is not None and current["image_id"] < image["id"]:
            current = next(pending, None)
        batch: list[AnnotationRow] = []
        while current is not None and current["image_id"] == image["id"]:
            batch.append(current)
            current = next(pending, None)
        yield image, batch
