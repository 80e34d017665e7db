"""COCO import as pre-labels: matched to the project's images by file name, every annotation validated.

Imported annotations have source "import" and are drafts unless the caller names another status. Bad annotations are reported by id with the
reason and the rest are imported. Importing the same file twice adds nothing the second time: an
identical mask of the same label class on the same image counts as already imported.
Label classes named by categories but missing from the project are created.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import IO, Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from annotator import geometry
from annotator.exports import coco_import
from annotator.exports.rows import ImageRow, export_file_names
from annotator.models import (
    Annotation,
    AnnotationSource,
    AnnotationStatus,
    Image,
    LabelClass,
    Project,
    StatusTransition,
)

BULK_ROWS = 500
# What imported annotations may become: drafts (pre-labels, the default), or ground truth brought in
# as submitted or approved, each with an audit row saying so.
IMPORT_STATUSES = (AnnotationStatus.DRAFT, AnnotationStatus.SUBMITTED, AnnotationStatus.APPROVED)


@dataclass
class ImportReport:
    imported: int = 0
    skipped: list[dict[str, Any]] = field(default_factory=list)  # [{"id": ..., "reason": ...}]
    created_label_classes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"imported": self.imported, "skipped": self.skipped, "created_label_classes": self.created_label_classes}


def coco_load(handle: IO[bytes]) -> Any:
    """Parsed JSON of an uploaded COCO file, or ValidationError (too large, not JSON)."""
    data = handle.read(settings.ANNOTATOR_MAX_UPLOAD_BYTES + 1)
    if len(data) > settings.ANNOTATOR_MAX_UPLOAD_BYTES:
        raise ValidationError({"file": "The COCO file is larger than the upload limit."})
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValidationError({"file": f"Not a JSON file: {exc}"}) from exc


def _image_lookup(project: Project) -> dict[str, Image]:
    """Every name an image may appear under: its uploaded name and the name our exports give it."""
    images = {
        image.pk: image
        for image in Image.objects.filter(project=project)
        .only("id", "original_name", "width", "height", "display")
        .order_by("id")
    }
    lookup: dict[str, Image] = {}
    rows = (ImageRow(id=i.pk, original_name=i.original_name, display=i.display.name) for i in images.values())
    for row, export_name in export_file_names(rows):
        lookup.setdefault(export_name, images[row["id"]])
    for image in images.values():
        for key in coco_import.name_keys(image.original_name):
            lookup.setdefault(key, image)
    return lookup


def _label_class(project: Project, name: str, cache: dict[str, LabelClass], report: ImportReport) -> LabelClass:
    if name not in cache:
        label_class, created = LabelClass.objects.get_or_create(
            project=project, name=name, defaults={"order": LabelClass.objects.filter(project=project).count()}
        )
        if created:
            report.created_label_classes.append(name)
        cache[name] = label_class
    return cache[name]


def coco_import_annotations(
    *, project: Project, data: Any, user: User | None, status: str = AnnotationStatus.DRAFT
) -> ImportReport:
    if status not in IMPORT_STATUSES:
        raise ValidationError({"status": f"Imported annotations are {', '.join(IMPORT_STATUSES)}; not {status!r}."})
    try:
        document = coco_import.parse_document(data)
    except coco_import.ImportProblem as exc:
        raise ValidationError({"file": str(exc)}) from exc
    report = ImportReport(skipped=[{"id": id_, "reason": reason} for id_, reason in document.problems])
    lookup = _image_lookup(project)
    label_classes = {lc.name: lc for lc in LabelClass.objects.filter(project=project)}
    existing: dict[int, set[tuple[int, str]]] = {}
    pending: list[Annotation] = []
    with transaction.atomic():
        for entry in document.annotations:
            try:
                row = _annotation_from_entry(entry, document, lookup, existing, project, label_classes, report, user)
            except coco_import.ImportProblem as exc:
                report.skipped.append({"id": entry["id"], "reason": str(exc)})
                continue
            row.status = status
            pending.append(row)
            if len(pending) >= BULK_ROWS:
                _save_imported(pending, project=project, user=user, status=status)
                report.imported += len(pending)
                pending = []
        _save_imported(pending, project=project, user=user, status=status)
        report.imported += len(pending)
    return report


def _save_imported(rows: list[Annotation], *, project: Project, user: User | None, status: str) -> None:
    created = Annotation.objects.bulk_create(rows)
    if status == AnnotationStatus.DRAFT:
        return
    # annotation_author stays empty: an import is no review of anyone's work (the reviewers' metrics
    # count review decisions by author).
    StatusTransition.objects.bulk_create(
        StatusTransition(
            project=project,
            image_id=row.image_id,
            annotation=row,
            actor=user,
            from_status=AnnotationStatus.DRAFT,
            to_status=status,
            comment=f"imported as {status}",
        )
        for row in created
    )


def _annotation_from_entry(entry, document, lookup, existing, project, label_classes, report, user) -> Annotation:
    coco_image, category = coco_import.annotation_refs(entry, document)
    image = next((lookup[key] for key in coco_import.name_keys(coco_image.file_name) if key in lookup), None)
    if image is None:
        raise coco_import.ImportProblem(f"no image named {coco_image.file_name!r} in this project")
    if (coco_image.width, coco_image.height) != (image.width, image.height):
        raise coco_import.ImportProblem(
            f"image {coco_image.file_name!r} is {coco_image.width}x{coco_image.height} in the file "
            f"but {image.width}x{image.height} here"
        )
    rle, polygons = coco_import.annotation_geometry(entry, width=image.width, height=image.height)
    label_class = _label_class(project, category, label_classes, report)
    if image.pk not in existing:
        existing[image.pk] = {
            (lc_id, r.get("counts"))
            for lc_id, r in Annotation.objects.filter(image=image).values_list("label_class_id", "rle")
        }
    key = (label_class.pk, rle["counts"])
    if key in existing[image.pk]:
        raise coco_import.ImportProblem("already imported: the same mask and label class exist on this image")
    existing[image.pk].add(key)
    if polygons is None:
        polygons = geometry.rle_to_polygons(rle)
    return Annotation(
        image=image,
        label_class=label_class,
        polygons=polygons,
        rle=rle,
        bbox=geometry.rle_bbox(rle),
        area=geometry.rle_area(rle),
        source=AnnotationSource.IMPORT,
        status=AnnotationStatus.DRAFT,
        author=user,
    )
