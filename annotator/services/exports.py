"""Dataset exports: validate the request, record it, and write the file in a Celery task.

`export_write` is the one writer used by the task and by `manage.py export_dataset`: it streams rows
from `annotator.selectors_exports` into the format writers of `annotator.exports`, so memory stays flat
(one image's annotations at a time; the COCO JSON and the zip are written to temporary files).
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.utils import timezone
from django.utils.text import slugify

from annotator import selectors_exports as rows
from annotator.exports import coco, masks, yolo
from annotator.exports.rows import export_file_names, group_by_image
from annotator.models import AnnotationStatus, Export, ExportFormat, ExportStatus, Job, LabelClass, Project
from annotator.services.exports_dicom_seg import write_dicom_seg
from common.storage import save_atomically
from common.tasks import enqueue_on_commit

logger = logging.getLogger(__name__)

# Fixed zip member timestamps, so the same data always gives the same bytes (and file name).
ZIP_DATE = (2000, 1, 1, 0, 0, 0)
PROGRESS_STEP_ROWS = 5000  # rows between progress writes: a few dozen UPDATEs even for 200k rows
# Formats named for a later issue, refused with a message instead of "unknown format" (none at present).
FUTURE_FORMATS: dict[str, str] = {}
# DICOM SEG is written by annotator.services.exports_dicom_seg (highdicom).
DICOM_SEG = ExportFormat.DICOM_SEG.value
EXPORT_FORMATS = tuple(ExportFormat.values)
YOLO_FORMATS = (ExportFormat.YOLO, ExportFormat.YOLO_DETECT)


def export_options_clean(*, project: Project, format: str, options: dict[str, Any] | None) -> dict[str, Any]:
    """Defaults filled in, everything checked:
    {"segmentation", "statuses", "label_class_ids", "job_id", "include_images"}."""
    if format in FUTURE_FORMATS:
        raise ValidationError({"format": FUTURE_FORMATS[format]})
    if format not in EXPORT_FORMATS:
        raise ValidationError({"format": f"Unknown format {format!r}; choose one of {', '.join(EXPORT_FORMATS)}."})
    options = dict(options or {})
    unknown = set(options) - {"segmentation", "statuses", "label_class_ids", "job_id", "include_images"}
    if unknown:
        raise ValidationError({"options": f"Unknown options: {', '.join(sorted(unknown))}."})
    segmentation = options.get("segmentation") or "rle"
    if segmentation not in coco.SEGMENTATION_MODES:
        raise ValidationError({"segmentation": "Choose rle or polygon."})
    # Approved work only unless asked otherwise: an export is usually training data.
    statuses = options.get("statuses", [AnnotationStatus.APPROVED])
    if statuses in ("all", None, []):
        statuses = []
    if not isinstance(statuses, list) or not set(statuses) <= set(AnnotationStatus.values):
        raise ValidationError(
            {"statuses": f"Statuses must be a list of {', '.join(AnnotationStatus.values)} (or 'all')."}
        )
    label_class_ids = options.get("label_class_ids") or []
    if not isinstance(label_class_ids, list) or not all(isinstance(v, int) and 0 < v < 2**63 for v in label_class_ids):
        raise ValidationError({"label_class_ids": "Give a list of label class ids."})
    found = set(LabelClass.objects.filter(project=project, pk__in=label_class_ids).values_list("pk", flat=True))
    if found != set(label_class_ids):
        raise ValidationError(
            {"label_class_ids": f"Not label classes of this project: {sorted(set(label_class_ids) - found)}."}
        )
    job_id = options.get("job_id") or None
    if job_id is not None and (
        not isinstance(job_id, int)
        or isinstance(job_id, bool)
        or not 0 < job_id < 2**63
        or not Job.objects.filter(project=project, pk=job_id).exists()
    ):
        raise ValidationError({"job_id": f"Not a job of this project: {job_id!r}."})
    # YOLO's layout has the images beside the labels; the other formats carry them only on request.
    include_images = True if format in YOLO_FORMATS else bool(options.get("include_images", False))
    return {
        "segmentation": segmentation,
        "statuses": sorted(statuses),
        "label_class_ids": sorted(label_class_ids),
        "job_id": job_id,
        "include_images": include_images,
    }


def export_extension(format: str, options: dict[str, Any]) -> str:
    return "json" if format == ExportFormat.COCO and not options["include_images"] else "zip"


def export_request(*, project: Project, user: User | None, format: str, options: dict | None = None) -> Export:
    """Record an export and queue its task once the row is committed."""
    clean = export_options_clean(project=project, format=format, options=options)
    export = Export.objects.create(project=project, requested_by=user, format=format, options=clean)
    enqueue_on_commit("annotator.tasks.export_run", export.pk)
    return export


def _progress_recorder(export_id: int, total: int) -> Callable[[int], None]:
    state = {"done": 0, "reported": 0}

    def advance(count: int = 1) -> None:
        state["done"] += count
        if state["done"] - state["reported"] >= PROGRESS_STEP_ROWS:
            state["reported"] = state["done"]
            Export.objects.filter(pk=export_id).update(progress=min(0.99, state["done"] / max(total, 1)))

    return advance


def export_run(export_id: int) -> None:
    """Write the export's file and mark it done; failures are recorded on the row, not raised.

    Idempotent: a finished export is left alone, so a redelivered task (acks_late) does no harm.
    """
    export = Export.objects.select_related("project").filter(pk=export_id).first()
    if export is None or export.status in (ExportStatus.DONE, ExportStatus.FAILED):
        return
    Export.objects.filter(pk=export_id).update(status=ExportStatus.RUNNING, progress=0.0, error="")
    try:
        options = export_options_clean(project=export.project, format=export.format, options=export.options)
        images, annotations = rows.export_counts(
            project=export.project,
            statuses=options["statuses"],
            label_class_ids=options["label_class_ids"],
            job_id=options["job_id"],
        )
        advance = _progress_recorder(export_id, images + annotations)
        with tempfile.TemporaryFile() as handle:
            summary = export_write(
                project=export.project, format=export.format, options=options, handle=handle, advance=advance
            )
            name = _store_by_hash(handle, export_extension(export.format, options))
    except Exception as exc:  # recorded for the user; the traceback goes to the worker log
        logger.exception("Export %s failed", export_id)
        Export.objects.filter(pk=export_id).update(
            status=ExportStatus.FAILED, error=f"{type(exc).__name__}: {exc}", finished_at=timezone.now()
        )
        return
    Export.objects.filter(pk=export_id).update(
        status=ExportStatus.DONE, progress=1.0, file=name, summary=summary, finished_at=timezone.now()
    )


def export_download_name(export: Export) -> str:
    extension = Path(export.file.name).suffix or ".zip"
    return f"{slugify(export.project.name) or 'project'}-{export.format}-{export.pk}{extension}"


def _store_by_hash(handle: IO[bytes], extension: str) -> str:
    """Save the finished file under exports/<sha256>.<ext>; readers never see a partial file."""
    handle.seek(0)
    digest = hashlib.sha256()
    for chunk in iter(lambda: handle.read(1 << 20), b""):
        digest.update(chunk)
    name = f"exports/{digest.hexdigest()}.{extension}"
    if default_storage.exists(name):
        return name  # identical content was exported before
    handle.seek(0)
    return save_atomically(name, handle)


def export_write(
    *,
    project: Project,
    format: str,
    options: dict[str, Any],
    handle: IO[bytes],
    advance: Callable[[int], None] = lambda count: None,
) -> dict[str, Any]:
    """Write one export (COCO JSON, or a zip) to a binary file object; returns a summary of counts.

    `options` must come from `export_options_clean`. `advance(n)` is called as rows are written.
    """
    label_classes = rows.export_label_classes(project=project, label_class_ids=options["label_class_ids"] or None)
    filters = {
        "project": project,
        "statuses": options["statuses"] or None,
        "label_class_ids": options["label_class_ids"] or None,
        "job_id": options["job_id"],
    }
    if format == ExportFormat.COCO:
        return _write_coco(project, options, label_classes, filters, handle, advance)
    if format == DICOM_SEG:
        return write_dicom_seg(
            project=project, label_classes=label_classes, filters=filters, handle=handle, advance=advance
        )
    with zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as archive:
        if format in YOLO_FORMATS:
            return _write_yolo(project, label_classes, filters, archive, advance, detect=format != ExportFormat.YOLO)
        return _write_masks(project, options, label_classes, filters, archive, advance)


def _member(name: str, compress: bool = True) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    info.external_attr = 0o644 << 16
    return info


def _add_storage_file(archive: zipfile.ZipFile, storage_name: str, member: str) -> None:
    # Already-compressed pixels (PNG/JPEG) are stored, not deflated again.
    with (
        default_storage.open(storage_name, "rb") as source,
        archive.open(_member(member, False), "w", force_zip64=True) as target,
    ):
        shutil.copyfileobj(source, target, 1 << 20)


def _coco_info(project: Project, options: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": project.name,
        "version": "1.0",
        "year": datetime.now(UTC).year,
        "contributor": "SAM Annotator",
        "date_created": datetime.now(UTC).isoformat(timespec="seconds"),
        "sam_annotator": {
            "segmentation": options["segmentation"],
            "statuses": options["statuses"] or "all",
            "label_class_ids": options["label_class_ids"] or "all",
        },
    }


def _write_coco(project, options, label_classes, filters, handle, advance) -> dict[str, Any]:
    def write_json(text_handle: IO[str]) -> dict[str, Any]:
        return coco.write_coco(
            text_handle,
            info=_coco_info(project, options),
            label_classes=label_classes,
            images=rows.export_image_rows(project=project, job_id=filters["job_id"]),
            annotations=rows.export_annotation_rows(**filters, rle=True, polygons=options["segmentation"] == "polygon"),
            segmentation=options["segmentation"],
            on_image=lambda image, name: advance(1),
            on_annotation=lambda entry: advance(1),
        )

    if not options["include_images"]:
        text = _text(handle)
        summary = write_json(text)
        text.flush()
        text.detach()
        return summary
    with tempfile.TemporaryFile() as json_file:
        text = _text(json_file)
        summary = write_json(text)
        text.flush()
        text.detach()
        json_file.seek(0)
        with zipfile.ZipFile(handle, "w", allowZip64=True) as archive:
            with archive.open(_member("annotations.json"), "w", force_zip64=True) as target:
                shutil.copyfileobj(json_file, target, 1 << 20)
            for image, file_name in export_file_names(
                rows.export_image_rows(project=project, job_id=filters["job_id"])
            ):
                _add_storage_file(archive, image["display"], f"images/{file_name}")
    return summary


def _text(handle: IO[bytes]) -> io.TextIOWrapper:
    return io.TextIOWrapper(handle, encoding="utf-8", newline="", write_through=False)


def _grouped(project, filters, *, polygons: bool, rle: bool):
    images = export_file_names(rows.export_image_rows(project=project, job_id=filters["job_id"]))
    annotations = rows.export_annotation_rows(**filters, rle=rle, polygons=polygons)
    # group_by_image merges on image id; export_file_names yields (image, name) pairs.
    names: dict[int, str] = {}

    def with_names():
        for image, name in images:
            names[image["id"]] = name
            yield image

    for image, batch in group_by_image(with_names(), annotations):
        yield image, names.pop(image["id"]), batch


def _write_yolo(project, label_classes, filters, archive, advance, *, detect: bool = False) -> dict[str, Any]:
    class_index = {lc["id"]: index for index, lc in enumerate(label_classes)}
    archive.writestr(
        _member("data.yaml"), yolo.data_yaml(label_classes, task="detection" if detect else "segmentation")
    )
    counts = {"images": 0, "annotations": 0, "lines": 0}
    write_lines = yolo.yolo_box_lines if detect else yolo.yolo_lines
    for image, file_name, batch in _grouped(project, filters, polygons=not detect, rle=False):
        lines = write_lines(batch, class_index=class_index, width=image["width"], height=image["height"])
        archive.writestr(_member(yolo.label_file_name(file_name)), "\n".join(lines) + ("\n" if lines else ""))
        _add_storage_file(archive, image["display"], f"images/{file_name}")
        counts["images"] += 1
        counts["annotations"] += sum(1 for row in batch if row["label_class_id"] in class_index)
        counts["lines"] += len(lines)
        advance(1 + len(batch))
    return counts


def _write_masks(project, options, label_classes, filters, archive, advance) -> dict[str, Any]:
    class_value = {lc["id"]: value for value, lc in enumerate(label_classes, start=1)}
    sixteen_bit_semantic = len(label_classes) > 255
    archive.writestr(_member("classes.csv"), masks.classes_csv(label_classes))
    counts = {"images": 0, "annotations": 0}
    with tempfile.TemporaryFile("w+", newline="") as table:
        table_writer = csv.writer(table, lineterminator="\n")
        table_writer.writerow(["file_name", "instance", "annotation_id", "class"])
        for image, file_name, batch in _grouped(project, filters, polygons=False, rle=True):
            instance, semantic, entries = masks.render_masks(
                batch, class_value=class_value, width=image["width"], height=image["height"]
            )
            instance_name, semantic_name = masks.mask_file_names(file_name)
            archive.writestr(_member(instance_name, False), masks.png_bytes(instance, sixteen_bit=True))
            archive.writestr(_member(semantic_name, False), masks.png_bytes(semantic, sixteen_bit=sixteen_bit_semantic))
            table_writer.writerows((file_name, value, annotation_id, klass) for value, annotation_id, klass in entries)
            if options["include_images"]:
                _add_storage_file(archive, image["display"], f"images/{file_name}")
            counts["images"] += 1
            counts["annotations"] += len(entries)
            advance(1 + len(batch))
        table.seek(0)
        with archive.open(_member("instances.csv"), "w", force_zip64=True) as target:
            for line in table:
                target.write(line.encode("utf-8"))
    return counts
