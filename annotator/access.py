"""Project access by membership and role: the one place that decides who sees what.

Every API view and page resolves its project through `project_for_user`, so a non-member gets 404
(not 403: the project's existence is not revealed) and a member without the needed role gets 403.
"""
from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404

from annotator.models import Membership, Project, Role


def projects_visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Project]:
    if not user.is_authenticated:
        return Project.objects.none()
    if user.is_superuser:
        return Project.objects.all()
    return Project.objects.filter(memberships__user=user).distinct()


def role_in_project(user: AbstractBaseUser | AnonymousUser, project: Project) -> str | None:
    """The user's role, or None for a non-member. Superusers act as managers everywhere."""
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return Role.MANAGER
    membership = Membership.objects.filter(project=project, user=user).only("role").first()
    return membership.role if membership else None


def project_for_user(
    user: AbstractBaseUser | AnonymousUser, project_id: int, *, roles: Iterable[str] | None = None
) -> tuple[Project, str]:
    """(project, role) for a member; Http404 for a non-member, PermissionDenied for a wrong role."""
    project = projects_visible_to(user).filter(pk=project_id).first()
    if project is None:
        raise Http404("No such project.")
    role = role_in_project(user, project)
    if role is None:
        raise Http404("No such project.")
    if roles is not None and role not in set(roles):
        raise PermissionDenied("Your role in this project does not allow this.")
    return project, role
