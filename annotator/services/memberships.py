"""Membership writes; a project always keeps at least one manager."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from annotator.models import Membership, Project, Role


def _check_role(role: str) -> None:
    if role not in Role.values:
        raise ValidationError({"role": f"Unknown role {role!r}; one of {Role.values}."})


def _check_not_last_manager(membership: Membership) -> None:
    if membership.role != Role.MANAGER:
        return
    others = (
        Membership.objects.select_for_update()
        .filter(project_id=membership.project_id, role=Role.MANAGER)
        .exclude(pk=membership.pk)
    )
    if not others.exists():
        raise ValidationError({"role": "A project must keep at least one manager."})


@transaction.atomic
def membership_add(*, project: Project, user: User, role: str) -> Membership:
    _check_role(role)
    if Membership.objects.filter(project=project, user=user).exists():
        raise ValidationError({"user": f"{user} is already a member of this project."})
    return Membership.objects.create(project=project, user=user, role=role)


@transaction.atomic
def membership_update(*, membership: Membership, role: str) -> Membership:
    _check_role(role)
    if role != Role.MANAGER:
        _check_not_last_manager(membership)
    membership.role = role
    membership.save(update_fields=["role"])
    return membership


@transaction.atomic
def membership_remove(*, membership: Membership) -> None:
    _check_not_last_manager(membership)
    membership.delete()
