"""Project writes: the creator becomes the project's first manager."""
from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from annotator.models import Membership, Project, Role

EDITABLE_FIELDS = frozenset({"name", "description"})


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
def project_update(*, project: Project, **changes: str) -> Project:
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise ValidationError({name: "This field cannot be changed." for name in sorted(unknown)})
    if "name" in changes:
        changes["name"] = changes["name"].strip()
        _check_name_free(changes["name"], exclude_pk=project.pk)
    for field, value in changes.items():
        setattr(project, field, value)
    project.full_clean(exclude=["created_by"])  # a departed creator leaves it empty
    project.save(update_fields=list(changes) or None)
    return project


@transaction.atomic
def project_delete(*, project: Project) -> None:
    # Each image through image_delete, so its stored files go too once nothing references them
    # (deleting an image cascades to its annotations, which would otherwise protect label classes).
    from annotator.services.images import image_delete  # ingest module; imported here as views do

    for image in project.images.all():
        image_delete(image=image)
    project.delete()
