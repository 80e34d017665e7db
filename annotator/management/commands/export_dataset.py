"""`manage.py export_dataset --project NAME --format coco|yolo|masks [--segmentation rle|polygon]
[--status approved|all] [--with-images] --out PATH`

Writes the same file the export task stores (COCO JSON, or a zip when images are included or the
format is yolo/masks) straight to PATH, via a temporary file beside it renamed at the end.
`--format dicom-seg` is reserved for a later issue and refused with a clear message.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator.models import ExportFormat, Project
from annotator.services.exports import FUTURE_FORMATS, export_options_clean, export_write


class Command(BaseCommand):
    help = "Export a project's annotations as COCO, YOLO segmentation or PNG masks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", required=True, help="project name")
        # Free text here so formats of later issues (dicom-seg) get a clear message, not argparse's.
        parser.add_argument("--format", required=True, help=f"one of {', '.join(ExportFormat.values)}")
        parser.add_argument("--segmentation", default="rle", choices=["rle", "polygon"], help="COCO segmentation (default rle)")
        parser.add_argument("--status", default="approved", choices=["approved", "all"],
                            help="export approved annotations only (default) or all")
        parser.add_argument("--with-images", action="store_true", help="put the images in the zip (always for yolo)")
        parser.add_argument("--out", required=True, help="output file (.json for plain COCO, else .zip)")

    def handle(self, *args, project: str, format: str, segmentation: str, status: str, with_images: bool,
               out: str, **options) -> None:
        if format in FUTURE_FORMATS:
            raise CommandError(FUTURE_FORMATS[format])
        target = Project.objects.filter(name=project).first()
        if target is None:
            raise CommandError(f"no project named {project!r}")
        try:
            clean = export_options_clean(project=target, format=format, options={
                "segmentation": segmentation,
                "statuses": "all" if status == "all" else ["approved"],
                "include_images": with_images,
            })
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        path = Path(out)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w+b") as handle:
                summary = export_write(project=target, format=format, options=clean, handle=handle)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        counts = ", ".join(f"{key} {value}" for key, value in summary.items())
        self.stdout.write(f"wrote {path} ({counts})")
