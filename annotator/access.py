"""Project access by membership and role: the one place that decides who sees what.

Every API view and page resolves its project through `project_for_user`, so a non-member gets 404
(not 403: the project's existence is not revealed) and a member without the needed role gets 403.

Who may do what (as in CVAT: only managers shape a project's data):
- manager: everything in the project (members, label classes, images upload/delete, project edit/delete,
  any annotation);
- annotator: read the project, its images and label classes; create annotations and edit/delete their own;
- reviewer: read everything; change an annotation's status and review comment only.
Superusers act as managers everywhere. Any signed-in user may create a project and becomes its manager.
"""
from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404

from annotator.models import Annotation, AnnotationStatus, Membership, Project, Role

ANNOTATION_WRITERS = (Role.MANAGER, Role.ANNOTATOR)
# Fields a reviewer may change; an annotator may change everything else on their own annotations.
REVIEW_FIELDS = frozenset({"status", "review_comment"})
# Statuses an annotator may set on their own work; approving or rejecting is the reviewer's.
ANNOTATOR_STATUSES = frozenset({AnnotationStatus.DRAFT, AnnotationStatus.SUBMITTED})


def projects_visible_to(user: AbstractBaseUser | AnonymousUser) -> QuerySet[Project]:
    if not user.is_authenticated:
        return Project.objects.none()
    if user.is_superuser:
        return Project.objects.all()
    # Exists rather than a join, so callers can annotate counts without duplicated rows.
    return Project.objects.filter(Exists(Membership.objects.filter(project=OuterRef("pk"), user=user)))


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
    require_role(role, roles)
    return project, role


def require_role(role: str, roles: Iterable[str] | None) -> None:
    if roles is not None and role not in set(roles):
        raise PermissionDenied("Your role in this project does not allow this.")


def check_annotation_change(
    user: AbstractBaseUser, role: str, annotation: Annotation, fields: Iterable[str]
) -> None:
    """PermissionDenied unless this member may change these fields of this annotation."""
    fields = set(fields)
    if role == Role.MANAGER:
        return
    if role == Role.REVIEWER:
        if not fields <= REVIEW_FIELDS:
            raise PermissionDenied("Reviewers may change only an annotation's status and review comment.")
        return
    if role == Role.ANNOTATOR:
        if annotation.author_id != user.pk:
            raise PermissionDenied("Annotators may change only their own annotations.")
        if "review_comment" in fields:
            raise PermissionDenied("Only reviewers and managers write review comments.")
        return
    raise PermissionDenied("Your role in this project does not allow this.")


def check_annotation_status(role: str, status: str) -> None:
    if role == Role.ANNOTATOR and status not in ANNOTATOR_STATUSES:
        raise PermissionDenied("Annotators may set an annotation to draft or submitted only.")


def check_annotation_delete(user: AbstractBaseUser, role: str, annotation: Annotation) -> None:
    if role == Role.MANAGER:
        return
    if role == Role.ANNOTATOR and annotation.author_id == user.pk:
        return
    raise PermissionDenied("You may delete only your own annotations.")
