"""Project writes: the creator becomes the project's first manager."""
from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from annotator.media import window_choice_clean
from annotator.models import Membership, Project, Role

EDITABLE_FIELDS = frozenset({"name", "description", "dicom_deidentify", "dicom_window"})


def _check_name_free(name: str, *, exclude_pk: int | None = None) -> None:
    taken = Project.objects.filter(name=name).exclude(pk=exclude_pk).exists()
    if taken:
        raise ValidationError({"name": "A project with this name already exists."})


@transaction.atomic
def project_create(*, name: str, user: AbstractBaseUser, description: str = "") -> Project:
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
        raise ValidationError({name: "This field cannot be changed." for name in sorted(unknown)})
    if "name" in changes:
        changes["name"] = changes["name"].strip()
        _check_name_free(changes["name"], exclude_pk=project.pk)
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
        project.dicom_render_state = {"status": "queued", "done": 0, "total": project.images.filter(format="DICOM").count(),
                                      "error": ""}
        changes["dicom_render_state"] = project.dicom_render_state
        _enqueue_dicom_render(project.pk)
    project.save(update_fields=list(changes) or None)
    return project


def _enqueue_dicom_render(project_id: int) -> None:
    # Imported here: the tasks module imports services (avoids an import loop).
    from annotator.tasks import dicom_render

    transaction.on_commit(lambda: dicom_render.delay(project_id))


@transaction.atomic
def project_delete(*, project: Project) -> None:
    # Each image through image_delete, so its stored files go too once nothing references them
    # (deleting an image cascades to its annotations, which would otherwise protect label classes).
    from annotator.services.images import image_delete  # ingest module; imported here as views do

    for image in project.images.all():
        image_delete(image=image)
    project.delete()
