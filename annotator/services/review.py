"""Review lifecycle: submit an image, approve/reject annotations or whole images; every status change
writes its StatusTransition row in the same transaction (docs/review.md has the state machine).

Who may act is checked by the caller through annotator.access; these services check that the
transition itself is valid and raise ValidationError with a clear message when it is not.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from annotator.models import Annotation, AnnotationStatus, Image, ImageReviewStatus, StatusTransition
from annotator.services.finetuning import finetune_maybe_schedule

# Image statuses from which the annotator may (re)submit.
SUBMITTABLE = frozenset({ImageReviewStatus.NEW, ImageReviewStatus.REJECTED})
# Annotation statuses a submit sends to review: drafts and the rejected ones the annotator fixed.
SUBMITTED_ON_SUBMIT = (AnnotationStatus.DRAFT, AnnotationStatus.REJECTED)
# Annotation statuses a reviewer may decide on (changing one's mind before the image is done is fine).
REVIEWABLE = frozenset({AnnotationStatus.SUBMITTED, AnnotationStatus.APPROVED, AnnotationStatus.REJECTED})


def record_transition(
    *,
    image: Image,
    actor: User,
    from_status: str,
    to_status: str,
    comment: str = "",
    annotation: Annotation | None = None,
) -> StatusTransition:
    return StatusTransition.objects.create(
        project_id=image.project_id,
        image=image,
        annotation=annotation,
        annotation_author_id=annotation.author_id if annotation else None,
        actor=actor,
        from_status=from_status,
        to_status=to_status,
        comment=comment,
    )


def locked_image(image: Image) -> Image:
    """The image row, locked, so two reviewers (or a submit and a review) cannot interleave."""
    return Image.objects.select_for_update().get(pk=image.pk)


def _set_image_status(image: Image, *, actor: User, to_status: str, comment: str = "") -> None:
    if image.review_status == to_status and not comment:
        return
    record_transition(image=image, actor=actor, from_status=image.review_status, to_status=to_status, comment=comment)
    image.review_status = to_status
    image.review_comment = comment
    image.save(update_fields=["review_status", "review_comment"])


def _set_annotation_status(
    annotation: Annotation, *, actor: User, image: Image, to_status: str, comment: str | None
) -> None:
    """Change status (and the review comment unless comment is None); bumps the version so an editor
    holding the old version learns that the annotation changed under them."""
    record_transition(
        image=image,
        annotation=annotation,
        actor=actor,
        from_status=annotation.status,
        to_status=to_status,
        comment=comment or "",
    )
    values = {"status": to_status, "version": F("version") + 1, "updated_at": timezone.now()}
    if comment is not None:
        values["review_comment"] = comment
    Annotation.objects.filter(pk=annotation.pk).update(**values)


def _check_reject_comment(approve: bool, comment: str) -> str:
    comment = (comment or "").strip()
    if not approve and not comment:
        raise ValidationError({"comment": "Say what to fix: a rejection needs a comment."})
    return comment


@transaction.atomic
def image_submit(*, image: Image, user: User) -> Image:
    """Annotator hands the image in: its drafts (and fixed rejections) become submitted."""
    image = locked_image(image)
    if image.review_status not in SUBMITTABLE:
        raise ValidationError(
            {"detail": f"This image is {image.review_status}; only new or rejected images can be submitted."}
        )
    annotations = Annotation.objects.filter(image=image, status__in=SUBMITTED_ON_SUBMIT).order_by("id")
    for annotation in annotations:
        # The reviewer's old comment stays until the next review, so the history reads naturally.
        _set_annotation_status(annotation, actor=user, image=image, to_status=AnnotationStatus.SUBMITTED, comment=None)
    _set_image_status(image, actor=user, to_status=ImageReviewStatus.SUBMITTED)
    return image


def _image_under_review(image: Image) -> Image:
    image = locked_image(image)
    if image.review_status != ImageReviewStatus.SUBMITTED:
        raise ValidationError(
            {"detail": f"This image is {image.review_status}; only submitted images can be reviewed."}
        )
    return image


def settle_image(image: Image, *, reviewer: User) -> None:
    """After per-annotation decisions (or a deletion during review): once every annotation is decided, the
    image is rejected if any is rejected, else approved. An image left with no annotation does not settle
    here: that takes an image-level decision."""
    statuses = set(Annotation.objects.filter(image=image).values_list("status", flat=True))
    if not statuses or AnnotationStatus.SUBMITTED in statuses or AnnotationStatus.DRAFT in statuses:
        return
    rejected = AnnotationStatus.REJECTED in statuses
    _set_image_status(
        image, actor=reviewer, to_status=ImageReviewStatus.REJECTED if rejected else ImageReviewStatus.APPROVED
    )


def _learn_on_commit(image: Image) -> None:
    """Continuous learning: approvals (and the corrections before them) may start a fine-tuning run."""
    project_id = image.project_id
    transaction.on_commit(lambda: finetune_maybe_schedule(project_id), robust=True)  # never fails an approval


@transaction.atomic
def annotation_review(*, annotation: Annotation, reviewer: User, approve: bool, comment: str = "") -> Annotation:
    """Approve or reject one annotation of a submitted image; the image settles when none is left waiting."""
    comment = _check_reject_comment(approve, comment)
    image = _image_under_review(annotation.image)
    annotation = Annotation.objects.select_for_update().get(pk=annotation.pk)
    if annotation.status not in REVIEWABLE:
        raise ValidationError({"detail": f"This annotation is {annotation.status}; it was never submitted."})
    to_status = AnnotationStatus.APPROVED if approve else AnnotationStatus.REJECTED
    _set_annotation_status(annotation, actor=reviewer, image=image, to_status=to_status, comment=comment)
    settle_image(image, reviewer=reviewer)
    if approve:
        _learn_on_commit(image)
    return Annotation.objects.select_related("label_class", "author").get(pk=annotation.pk)


@transaction.atomic
def image_review(*, image: Image, reviewer: User, approve: bool, comment: str = "", reject_rest: bool = False) -> Image:
    """Approve everything on the image, or reject the image with a comment.

    A plain rejection changes no annotation: those the reviewer left undecided stay `submitted` (the
    annotator resubmits them with the fixes) and the image comment is not copied onto annotations.
    `reject_rest` ("reject the rest") also rejects the undecided ones, with the image comment as theirs.
    Annotations decided one by one keep their decision either way.
    """
    comment = _check_reject_comment(approve, comment)
    if approve and reject_rest:
        raise ValidationError({"reject_rest": "Reject the rest goes with a rejection (approve: false)."})
    image = _image_under_review(image)
    if approve:
        waiting: tuple[AnnotationStatus, ...] = (AnnotationStatus.SUBMITTED, AnnotationStatus.REJECTED)
        to_status, image_status = AnnotationStatus.APPROVED, ImageReviewStatus.APPROVED
    else:
        waiting = (AnnotationStatus.SUBMITTED,) if reject_rest else ()
        to_status, image_status = AnnotationStatus.REJECTED, ImageReviewStatus.REJECTED
    for annotation in Annotation.objects.select_for_update().filter(image=image, status__in=waiting).order_by("id"):
        _set_annotation_status(annotation, actor=reviewer, image=image, to_status=to_status, comment=comment)
    _set_image_status(image, actor=reviewer, to_status=image_status, comment=comment)
    if approve:
        _learn_on_commit(image)
    return image
