"""The "dicom-seg" export: a zip of DICOM SEG files, one per annotated series (or multi-frame instance).

Called by `annotator.services.exports.export_write`. Reads the ORIGINAL stored DICOM file of each
annotated image (Image.file; the display rendition has lost the DICOM attributes a SEG must reference),
groups frames by `dicom_seg.seg_group_key`, and builds each SEG with `annotator.dicom.seg`.
An image that cannot be a SEG source (not DICOM, unreadable file, legacy multi-frame, ...) is listed
in the summary's "skipped" with the reason, and in skipped.txt in the zip; it never stops the others.
Every SEG is checked before it is put in the zip (`annotator.dicom.seg_check`: read back by highdicom
and compared pixel by pixel, and dciodvfy when installed, against the errors its source already
has); one that fails is left out and its series is listed in "skipped" with the problems.
When nothing at all could be written, the export fails with every reason in its message.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import IO, Any, cast

from django.core.files.storage import default_storage

from annotator import geometry
from annotator import selectors_exports as rows
from annotator.dicom import seg as dicom_seg
from annotator.dicom.parse import read_stored_dicom_header
from annotator.dicom.seg_check import seg_problems
from annotator.exports.rows import ImageRow, group_by_image
from annotator.models import Image, Project

ZIP_DATE = (2000, 1, 1, 0, 0, 0)


class DicomSegExportError(ValueError):
    """No SEG could be written; the message lists why, image by image."""


@dataclass
class _Group:
    first_name: str
    frames: list[tuple[ImageRow, Any, int, dict[int, list[dict]], set[int]]] = field(default_factory=list)
    annotations: int = 0


def write_dicom_seg(
    *,
    project: Project,
    label_classes: list[dict],
    filters: dict[str, Any],
    handle: IO[bytes],
    advance: Callable[[int], None],
) -> dict[str, Any]:
    class_ids = {lc["id"] for lc in label_classes}
    images = Image.objects.filter(project=project)
    if filters.get("job_id"):
        images = images.filter(job_id=filters["job_id"])
    image_rows = cast(
        Iterator[ImageRow],
        images.order_by("id")
        .values("id", "original_name", "file", "format", "metadata")
        .iterator(chunk_size=rows.CHUNK_ROWS),
    )
    annotations = rows.export_annotation_rows(**filters, rle=True)
    groups: dict[str, _Group] = {}
    datasets: dict[str, Any] = {}  # storage name of an original -> its header
    skipped: list[str] = []
    for image, batch in group_by_image(image_rows, annotations):
        advance(1 + len(batch))
        batch = [row for row in batch if row["label_class_id"] in class_ids]
        if not batch:
            continue
        name = image["original_name"]
        if image["format"] != "DICOM":
            skipped.append(
                f"{name}: not a DICOM image ({image['format']}), so there is nothing a DICOM SEG can reference"
            )
            continue
        dataset = datasets.get(image["file"])
        if dataset is None:
            try:
                with default_storage.open(image["file"], "rb") as source:
                    # The SEG references the source's attributes only; its pixels are not needed here.
                    dataset = read_stored_dicom_header(source)
            except Exception as exc:
                skipped.append(f"{_frame_name(image)}: the original DICOM file cannot be read ({type(exc).__name__})")
                continue
            # The frames of one multi-frame file share its (possibly large) header: parsed once.
            datasets[image["file"]] = dataset
        refusal = dicom_seg.seg_refusal(dataset)
        if refusal:
            skipped.append(f"{_frame_name(image)}: {refusal}")
            continue
        by_class: dict[int, list[dict]] = {}
        machine_made: set[int] = set()
        for row in batch:
            by_class.setdefault(row["label_class_id"], []).append(row["rle"])
            if row["source"] not in dicom_seg.MANUAL_SOURCES:
                machine_made.add(row["label_class_id"])
        group = groups.setdefault(dicom_seg.seg_group_key(dataset), _Group(first_name=name))
        group.frames.append(
            (image, dataset, int((image["metadata"] or {}).get("frame", 0) or 0), by_class, machine_made)
        )
        group.annotations += len(batch)
    counts = {"segmentations": 0, "images": 0, "annotations": 0}
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        for number, group in enumerate(groups.values(), start=1):
            try:
                built = dicom_seg.build_segmentation(
                    frames=[
                        _source_frame(dataset, frame, by_class, machine_made)
                        for _, dataset, frame, by_class, machine_made in group.frames
                    ],
                    label_classes=label_classes,
                    series_number=number,
                    series_description=f"SEG {project.name}",
                )
            except (dicom_seg.SegRefused, geometry.GeometryError) as exc:
                reason = exc.reason if isinstance(exc, dicom_seg.SegRefused) else str(exc)
                skipped.extend(f"{_frame_name(image)}: {reason}" for image, *_ in group.frames)
                continue
            data = _dicom_bytes(built.dataset)
            problems = seg_problems(data, expected=built.expected, source_bytes=_stored_bytes(group.frames[0][0]))
            if problems:
                # Never offered: a SEG that fails its check is listed with the reasons instead.
                reason = "its SEG was written but failed its check, so it is not offered: " + "; ".join(problems)
                skipped.extend(f"{_frame_name(image)}: {reason}" for image, *_ in group.frames)
                continue
            archive.writestr(_member(f"{number:04d}_{_safe_stem(group.first_name)}_SEG.dcm"), data)
            counts["segmentations"] += 1
            counts["images"] += len(group.frames)
            counts["annotations"] += group.annotations
        if skipped:
            archive.writestr(_member("skipped.txt"), "\n".join(skipped) + "\n")
    if skipped and not counts["segmentations"]:
        raise DicomSegExportError("no DICOM SEG could be written: " + "; ".join(skipped))
    return {**counts, "skipped": skipped}


def _frame_name(image: ImageRow) -> str:
    metadata = image["metadata"] or {}
    if int(metadata.get("frames", 1) or 1) > 1:
        return f"{image['original_name']} (frame {int(metadata.get('frame', 0)) + 1})"
    return image["original_name"]


def _source_frame(
    dataset: Any, frame: int, by_class: dict[int, list[dict]], machine_made: set[int]
) -> dicom_seg.SourceFrame:
    masks = {}
    for class_id, rles in by_class.items():
        mask = geometry.rle_decode(rles[0])
        for rle in rles[1:]:
            mask |= geometry.rle_decode(rle)
        masks[class_id] = mask
    return dicom_seg.SourceFrame(dataset=dataset, frame=frame, masks=masks, semiautomatic=machine_made)


def _stored_bytes(image: ImageRow) -> bytes | None:
    """The stored original (for the check's baseline of errors the source already has)."""
    try:
        with default_storage.open(image["file"], "rb") as source:
            return source.read()
    except OSError:
        return None


def _dicom_bytes(dataset: Any) -> bytes:
    buffer = io.BytesIO()
    dataset.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _safe_stem(name: str) -> str:
    # Member names must not carry paths or odd characters (and never patient data beyond the file name).
    stem = PurePosixPath(name.replace("\\", "/")).stem
    return re.sub(r"[^A-Za-z0-9._-]+", "_", stem)[:60] or "image"


def _member(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info
