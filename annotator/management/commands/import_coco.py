"""`manage.py import_coco --project NAME [--user USERNAME] [--status draft|submitted|approved] PATH`

Imports a COCO instances file as draft pre-labels (source "import"), like the import API; with
--status approved (or submitted) as existing ground truth, each annotation with an audit row
"imported as approved". Prints
`imported N`, then one `skipped <id>: <reason>` line per refused annotation; exits 1 when any was skipped.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator.models import Project
from annotator.services.imports import IMPORT_STATUSES, coco_import_annotations, coco_load


class Command(BaseCommand):
    help = "Import a COCO instances file into a project as draft pre-labels."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", metavar="PATH", help="COCO instances JSON file")
        parser.add_argument("--project", required=True, help="project name")
        parser.add_argument("--user", help="username recorded as author of the imported annotations")
        parser.add_argument(
            "--status",
            choices=IMPORT_STATUSES,
            default="draft",
            help="status of the imported annotations (default draft)",
        )

    def handle(self, *args, path: str, project: str, user: str | None, status: str = "draft", **options) -> None:
        target = Project.objects.filter(name=project).first()
        if target is None:
            raise CommandError(f"no project named {project!r}")
        author = None
        if user:
            author = get_user_model().objects.filter(username=user).first()
            if author is None:
                raise CommandError(f"no user named {user!r}")
        try:
            with open(path, "rb") as handle:
                report = coco_import_annotations(project=target, data=coco_load(handle), user=author, status=status)
        except FileNotFoundError as exc:
            raise CommandError(f"no such file: {path}") from exc
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from exc
        self.stdout.write(f"imported {report.imported}")
        for name in report.created_label_classes:
            self.stdout.write(f"created label class {name}")
        for item in report.skipped:
            self.stdout.write(f"skipped {item['id']}: {item['reason']}")
        if report.skipped:
            raise CommandError(f"{len(report.skipped)} annotations skipped", returncode=1)
