"""Label class writes: unique names per project, colours as #rrggbb."""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import transaction

from annotator.models import LabelClass, Project

COLOR_PATTERN = re.compile(r"^#[0-9a-fA-F]{6}$")
EDITABLE_FIELDS = frozenset({"name", "color", "order"})


def _validate(project: Project, *, name: str | None, color: str | None, exclude_pk: int | None = None) -> None:
    if name is not None:
        if not name.strip():
            raise ValidationError({"name": "A label class needs a name."})
        if LabelClass.objects.filter(project=project, name=name.strip()).exclude(pk=exclude_pk or 0).exists():
            raise ValidationError({"name": f"This project already has a label class named {name.strip()!r}."})
    if color is not None and not COLOR_PATTERN.match(color):
        raise ValidationError({"color": "A colour is written #rrggbb, e.g. #e6194b."})


@transaction.atomic
def label_class_create(*, project: Project, name: str, color: str = "#e6194b", order: int | None = None) -> LabelClass:
    _validate(project, name=name, color=color)
    if order is None:
        order = LabelClass.objects.filter(project=project).count()
    label_class = LabelClass(project=project, name=name.strip(), color=color.lower(), order=order)
    label_class.full_clean()
    label_class.save()
    return label_class


@transaction.atomic
def label_class_update(*, label_class: LabelClass, **changes) -> LabelClass:
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be changed."))
    _validate(label_class.project, name=changes.get("name"), color=changes.get("color"), exclude_pk=label_class.pk)
    if "name" in changes:
        changes["name"] = changes["name"].strip()
    if "color" in changes:
        changes["color"] = changes["color"].lower()
    for field, value in changes.items():
        setattr(label_class, field, value)
    label_class.full_clean()
    label_class.save()
    return label_class


@transaction.atomic
def label_class_delete(*, label_class: LabelClass) -> None:
    used = label_class.annotations.count()
    if used:
        raise ValidationError(
            {
                "detail": f"Label class {label_class.name!r} is used by {used} annotation(s); "
                "relabel or delete them first."
            }
        )
    label_class.delete()
