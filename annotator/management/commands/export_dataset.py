"""`manage.py export_dataset --project NAME --format coco|yolo|yolo-detect|masks|dicom-seg [--segmentation rle|polygon]
[--status approved|all] [--with-images] --out PATH`

Writes the same file the export task stores (COCO JSON, or a zip when images are included or the
format is yolo/masks) straight to PATH, via a temporary file beside it renamed at the end.
`--format dicom-seg` writes a zip of DICOM SEG files, one per annotated series (PATH may be an existing
folder: <project>-dicom-seg.zip goes inside); images that cannot be a SEG source are listed after the
counts, and when none can, the command fails naming each of them.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.text import slugify

from annotator.models import Project
from annotator.services.exports import DICOM_SEG, EXPORT_FORMATS, FUTURE_FORMATS, export_options_clean, export_write
from annotator.services.exports_dicom_seg import DicomSegExportError


class Command(BaseCommand):
    help = "Export a project's annotations as COCO, YOLO segmentation or PNG masks."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", required=True, help="project name")
        # Free text here so formats of later issues (dicom-seg) get a clear message, not argparse's.
        parser.add_argument("--format", required=True, help=f"one of {', '.join(EXPORT_FORMATS)}")
        parser.add_argument(
            "--segmentation", default="rle", choices=["rle", "polygon"], help="COCO segmentation (default rle)"
        )
        parser.add_argument(
            "--status",
            default="approved",
            choices=["approved", "all"],
            help="export approved annotations only (default) or all",
        )
        parser.add_argument("--job", default="", help="only the images of this job (its name or id)")
        parser.add_argument("--with-images", action="store_true", help="put the images in the zip (always for yolo)")
        parser.add_argument("--out", required=True, help="output file (.json for plain COCO, else .zip)")

    def handle(
        self,
        *args,
        project: str,
        format: str,
        segmentation: str,
        status: str,
        with_images: bool,
        out: str,
        job: str = "",
        **options,
    ) -> None:
        if format in FUTURE_FORMATS:
            raise CommandError(FUTURE_FORMATS[format])
        target = Project.objects.filter(name=project).first()
        if target is None:
            raise CommandError(f"no project named {project!r}")
        job_id = None
        if job:
            found = target.jobs.filter(pk=int(job)) if job.isdigit() else target.jobs.filter(name=job)
            if found.count() != 1:
                raise CommandError(f"no single job {job!r} in project {project!r}")
            job_id = found.get().pk
        try:
            clean = export_options_clean(
                project=target,
                format=format,
                options={
                    "segmentation": segmentation,
                    "statuses": "all" if status == "all" else ["approved"],
                    "include_images": with_images,
                    "job_id": job_id,
                },
            )
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        path = Path(out)
        if format == DICOM_SEG and path.is_dir():
            # The form `--out DIR`: the zip of SEG files goes inside, named after the project.
            path = path / f"{slugify(project) or 'project'}-dicom-seg.zip"
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        try:
            with os.fdopen(fd, "w+b") as handle:
                summary = export_write(project=target, format=format, options=clean, handle=handle)
            os.replace(temporary, path)
        except DicomSegExportError as exc:
            Path(temporary).unlink(missing_ok=True)
            raise CommandError(str(exc)) from exc
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        skipped = summary.pop("skipped", [])
        counts = ", ".join(f"{key} {value}" for key, value in summary.items())
        self.stdout.write(f"wrote {path} ({counts})")
        for line in skipped:
            self.stdout.write(f"skipped {line}")
