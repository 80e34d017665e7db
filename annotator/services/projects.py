"""Project writes: the creator becomes the project's first manager."""

from __future__ import annotations

import logging

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from annotator.dicom.window import window_choice_clean
from annotator.models import Export, Membership, Project, Role
from annotator.services.dicom_renditions import dicom_render_queue
from annotator.services.images import image_delete

logger = logging.getLogger(__name__)

EDITABLE_FIELDS = frozenset(
    {"name", "description", "dicom_deidentify", "dicom_window", "dicom_burned_in", "retrain_every"}
)


def _check_name_free(name: str, *, exclude_pk: int | None = None) -> None:
    taken = Project.objects.filter(name=name).exclude(pk=exclude_pk).exists()
    if taken:
        raise ValidationError({"name": "A project with this name already exists."})


@transaction.atomic
def project_create(*, name: str, user: User, description: str = "") -> Project:
    name = name.strip()
    if not name:
        raise ValidationError({"name": "A project needs a name."})
    _check_name_free(name)
    project = Project(name=name, description=description, created_by=user)
    project.full_clean(exclude=["created_by"])  # a departed creator leaves it empty
    try:
        with transaction.atomic():
            project.save()
    except IntegrityError as exc:  # a concurrent create won the name
        raise ValidationError({"name": "A project with this name already exists."}) from exc
    Membership.objects.create(project=project, user=user, role=Role.MANAGER)
    return project


@transaction.atomic
def project_update(*, project: Project, **changes) -> Project:
    """Change a project's editable fields. A changed DICOM window re-renders the project's DICOM
    images (and so their embeddings) in a Celery task started after the commit."""
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be changed."))
    if "name" in changes:
        changes["name"] = changes["name"].strip()
        _check_name_free(changes["name"], exclude_pk=project.pk)
    if changes.get("dicom_deidentify") and not project.dicom_deidentify:
        _check_no_identified_dicom(project)
    window_changed = False
    if "dicom_window" in changes:
        try:
            changes["dicom_window"] = window_choice_clean(changes["dicom_window"])
        except ValueError as exc:
            raise ValidationError({"dicom_window": str(exc)}) from exc
        window_changed = changes["dicom_window"] != project.dicom_window
    for field, value in changes.items():
        setattr(project, field, value)
    project.full_clean(exclude=["created_by"])  # a departed creator leaves it empty
    if window_changed:
        project.dicom_render_state = dicom_render_queue(project.pk)
        changes["dicom_render_state"] = project.dicom_render_state
    project.save(update_fields=list(changes) or None)
    return project


def _check_no_identified_dicom(project: Project) -> None:
    """De-identification applies on upload and stored originals are never rewritten (docs/dicom.md):
    turning it on over DICOM images already held would claim a protection those images lack."""
    Project.objects.select_for_update().filter(pk=project.pk).exists()  # uploads check under this lock
    held = project.images.filter(format="DICOM").count()
    if held:
        raise ValidationError(
            {
                "dicom_deidentify": (
                    f"This project already holds {held} DICOM image{'s' if held != 1 else ''} stored as uploaded, "
                    "with their patient data. De-identification applies only to uploads made after it is turned on "
                    "and never rewrites stored originals, so it cannot be turned on here: create a new project with "
                    "de-identification on and upload the files there (or delete these images first)."
                )
            }
        )


@transaction.atomic
def project_delete(*, project: Project) -> None:
    # Each image through image_delete, so its stored files go too once nothing references them
    # (deleting an image cascades to its annotations, which would otherwise protect label classes).
    for image in project.images.all():
        image_delete(image=image)
    export_names = [name for name in project.exports.values_list("file", flat=True) if name]
    project.delete()
    # After commit, as for images: a rolled-back delete keeps its files.
    transaction.on_commit(lambda: _export_files_delete(export_names))


def _export_files_delete(names: list[str]) -> None:
    """Export files (named by content hash) that no remaining export row holds; failures are logged."""
    for name in names:
        if Export.objects.filter(file=name).exists():
            continue
        try:
            default_storage.delete(name)
        except OSError:
            logger.exception("Could not delete export file %s", name)
