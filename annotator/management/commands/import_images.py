"""`manage.py import_images --project NAME [--create] [--user USERNAME] PATH...`

Bulk loads through the same service as uploads. Prints one line per file,
`accepted <name> <width>x<height>`, `rejected <name>: <reason>` or `skipped <name>: <reason>` (a
DICOMDIR index: not a failure), then `flagged <name>: <warning>` for accepted images to check
(burned-in annotation), and exits 1 when any file was rejected. Folders are walked recursively
(hidden files skipped); zip archives are expanded. A CD export's folder (DICOMDIR and its files)
imports with exit 0: the DICOMDIR is skipped and the images it lists are imported as files.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import IO

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotator.models import Project
from annotator.services.images import images_ingest
from annotator.services.projects import project_create


class Command(BaseCommand):
    help = "Import image files, folders of images and zip archives into a project."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", metavar="PATH", help="image files, folders or zip archives")
        parser.add_argument("--project", required=True, help="project name")
        parser.add_argument("--create", action="store_true", help="create the project if it does not exist")
        parser.add_argument("--user", help="username recorded as uploader (and manager of a created project)")

    def handle(self, *args, paths: list[str], project: str, create: bool, user: str | None, **options) -> None:
        owner = self._user(user)
        target = self._project(project, create=create, owner=owner)
        missing = [path for path in paths if not Path(path).exists()]
        if missing:
            raise CommandError(f"no such file or folder: {', '.join(missing)}")
        report = images_ingest(project=target, files=_open_files(paths), user=owner)
        for image in report.accepted:
            self.stdout.write(f"accepted {image.original_name} {image.width}x{image.height}")
        for name, reason in report.rejected:
            self.stdout.write(f"rejected {name}: {reason}")
        for name, reason in report.skipped:
            self.stdout.write(f"skipped {name}: {reason}")
        for name, warning in report.flagged:
            self.stdout.write(f"flagged {name}: {warning}")
        if report.rejected:
            raise CommandError(
                f"{len(report.rejected)} of {len(report.accepted) + len(report.rejected)} files rejected",
                returncode=1,
            )

    def _user(self, username: str | None):
        if username is None:
            return None
        found = get_user_model().objects.filter(username=username).first()
        if found is None:
            raise CommandError(f"no user named {username!r}")
        return found

    def _project(self, name: str, *, create: bool, owner) -> Project:
        found = Project.objects.filter(name=name).first()
        if found is not None:
            return found
        if not create:
            raise CommandError(f"no project named {name!r} (add --create to create it)")
        try:
            # project_create makes the owner its manager; without an owner (scripts run as nobody in
            # particular) the project starts without members and superusers manage it.
            created = project_create(name=name, user=owner) if owner is not None else Project.objects.create(name=name)
        except ValidationError as exc:
            raise CommandError(f"cannot create project {name!r}: {exc}") from exc
        self.stderr.write(f"created project {name}")  # stderr: stdout is one line per file
        return created


def _open_files(paths: list[str]) -> Iterator[tuple[str, IO[bytes]]]:
    """Yield (name, open file) one at a time; each file is closed before the next is opened."""
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                relative = child.relative_to(path)
                if any(part.startswith(".") for part in relative.parts):
                    continue
                with child.open("rb") as stream:
                    yield relative.as_posix(), stream
        else:
            with path.open("rb") as stream:
                yield path.name, stream
