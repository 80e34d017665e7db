"""Project access by membership and role: the one place that decides who sees what.

Every API view and page resolves its project through `project_for_user`, so a non-member gets 404
(not 403: the project's existence is not revealed) and a member without the needed role gets 403.

Who may do what (as in CVAT: only managers shape a project's data):
- manager: everything in the project (members, label classes, images upload/delete, project edit/delete,
  any annotation);
- annotator: read the project, its images and label classes; create annotations and edit/delete their own
  on images assigned to them (see `image_open_to_annotator`) while the image is not under review or done;
  submit those images;
- reviewer: read everything; write an annotation's review comment and review submitted images (both only
  the job's reviewer when the image's job names one) and, while an image is submitted, correct the geometry
  and label class of its annotations (no creating or deleting: missing objects are a rejection).
Status changes go through the review services only (annotator.services.review), never a generic PATCH.
Superusers act as managers everywhere. Any signed-in user may create a project and becomes its manager.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, OuterRef, QuerySet
from django.http import Http404, HttpRequest
from rest_framework.request import Request

from annotator.models import Annotation, AnnotationStatus, Image, ImageReviewStatus, Job, Membership, Project, Role

ANNOTATION_WRITERS = (Role.MANAGER, Role.ANNOTATOR)
# Fields a reviewer may change; an annotator may change everything else on their own annotations.
REVIEW_FIELDS = frozenset({"review_comment"})
# What a reviewer may correct on the annotations of an image under review (docs/review.md).
CORRECTION_FIELDS = frozenset({"label_class", "rle", "polygons", "bbox", "prompts"})
# Statuses an annotator may set on their own work; approving or rejecting is the reviewer's.
ANNOTATOR_STATUSES = frozenset({AnnotationStatus.DRAFT, AnnotationStatus.SUBMITTED})
# Image statuses in which the annotator may still change the image's annotations.
ANNOTATOR_EDITABLE_IMAGE = frozenset({ImageReviewStatus.NEW, ImageReviewStatus.REJECTED})


def projects_visible_to(user: User | AnonymousUser) -> QuerySet[Project]:
    if not user.is_authenticated:
        return Project.objects.none()
    if user.is_superuser:
        return Project.objects.all()
    # Exists rather than a join, so callers can annotate counts without duplicated rows.
    return Project.objects.filter(Exists(Membership.objects.filter(project=OuterRef("pk"), user=user)))


def role_in_project(user: User | AnonymousUser, project: Project) -> str | None:
    """The user's role, or None for a non-member. Superusers act as managers everywhere."""
    if not user.is_authenticated:
        return None
    if user.is_superuser:
        return Role.MANAGER
    membership = Membership.objects.filter(project=project, user=user).only("role").first()
    return membership.role if membership else None


def project_for_user(
    user: User | AnonymousUser, project_id: int, *, roles: Iterable[str] | None = None
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


def check_annotation_change(user: User, role: str, annotation: Annotation, fields: Iterable[str]) -> None:
    """PermissionDenied unless this member may change these fields of this annotation."""
    fields = set(fields)
    if role == Role.MANAGER:
        return
    if role == Role.REVIEWER:
        if fields <= REVIEW_FIELDS:
            check_image_review(user, role, annotation.image)  # comments too: only the image's reviewer
            return
        if not fields <= REVIEW_FIELDS | CORRECTION_FIELDS:
            raise PermissionDenied("Reviewers may correct only an annotation's geometry, label class and prompts.")
        if annotation.image.review_status != ImageReviewStatus.SUBMITTED:
            raise PermissionDenied(
                f"This image is {annotation.image.review_status}; reviewers correct annotations only while "
                "the image is submitted for review."
            )
        check_image_review(user, role, annotation.image)
        return
    if role == Role.ANNOTATOR:
        if annotation.author_id != user.pk:
            raise PermissionDenied("Annotators may change only their own annotations.")
        if "review_comment" in fields:
            raise PermissionDenied("Only reviewers and managers write review comments.")
        check_image_annotate(user, role, annotation.image)
        return
    raise PermissionDenied("Your role in this project does not allow this.")


def check_annotation_status(role: str, status: str) -> None:
    if role == Role.ANNOTATOR and status not in ANNOTATOR_STATUSES:
        raise PermissionDenied("Annotators may set an annotation to draft or submitted only.")


def check_annotation_delete(user: User, role: str, annotation: Annotation) -> None:
    if role == Role.MANAGER:
        return
    if role == Role.REVIEWER:
        check_image_review_edit(user, role, annotation.image)  # a wrong object, deleted during review
        return
    if role == Role.ANNOTATOR and annotation.author_id == user.pk:
        check_image_annotate(user, role, annotation.image)
        return
    raise PermissionDenied("You may delete only your own annotations.")


def image_open_to_annotator(user: User, image: Image) -> bool:
    """Assignment rule: in a project without jobs every annotator works on every image; once the project
    has jobs, an annotator works only on the images of jobs assigned to them (images in no job, or in a
    job without an annotator, wait for a manager to assign them)."""
    if image.job_id is None:
        return not Job.objects.filter(project_id=image.project_id).exists()
    return Job.objects.filter(pk=image.job_id, annotator_id=user.pk).exists()


def check_image_annotate(user: User, role: str, image: Image) -> None:
    """PermissionDenied unless this member may create or change annotations on this image now."""
    if role == Role.MANAGER:
        return
    if role != Role.ANNOTATOR:
        raise PermissionDenied("Your role in this project does not allow annotating.")
    if not image_open_to_annotator(user, image):
        raise PermissionDenied("This image is not assigned to you.")
    if image.review_status not in ANNOTATOR_EDITABLE_IMAGE:
        raise PermissionDenied(f"This image is {image.review_status}; it can no longer be changed by its annotator.")


def check_annotation_create(user: User, role: str, image: Image) -> None:
    """PermissionDenied unless this member may add an annotation to this image now: annotators and
    managers as for annotating; reviewers add missed objects while they review the image."""
    if role == Role.REVIEWER:
        check_image_review_edit(user, role, image)
        return
    check_image_annotate(user, role, image)


def check_image_review_edit(user: User, role: str, image: Image) -> None:
    """Reviewers add and delete objects only while the image is submitted, and only its reviewers."""
    if image.review_status != ImageReviewStatus.SUBMITTED:
        raise PermissionDenied(
            f"This image is {image.review_status}; reviewers add and delete objects only while the image is "
            "submitted for review."
        )
    check_image_review(user, role, image)


def check_image_submit(user: User, role: str, image: Image) -> None:
    if role == Role.MANAGER:
        return
    if role != Role.ANNOTATOR:
        raise PermissionDenied("Only annotators and managers submit images.")
    if not image_open_to_annotator(user, image):
        raise PermissionDenied("This image is not assigned to you.")


def check_image_review(user: User, role: str, image: Image) -> None:
    """Reviewers review; when the image's job names a reviewer, only that reviewer (and managers)."""
    if role == Role.MANAGER:
        return
    if role != Role.REVIEWER:
        raise PermissionDenied("Only reviewers and managers review.")
    if (
        image.job_id is not None
        and Job.objects.filter(pk=image.job_id).exclude(reviewer=None).exclude(reviewer_id=user.pk).exists()
    ):
        raise PermissionDenied("This image's job has another reviewer.")


def user_of(request: HttpRequest | Request) -> User:
    """The signed-in user of a request. Every view that calls this requires a signed-in user first
    (login_required / IsAuthenticated), so an anonymous one here is a wiring mistake: refuse it."""
    user = request.user
    if not isinstance(user, User):
        raise PermissionDenied("Sign in first.")
    return user
