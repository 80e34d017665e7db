"""Adding and deleting annotations with the review state in mind: a reviewer (or manager) adds a missed
object or deletes a wrong one while the image is under review (docs/review.md). Apart from
services/review.py because services/annotations.py reads review's constants (no import loop)."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.db import transaction

from annotator.models import Annotation, AnnotationStatus, Image, ImageReviewStatus
from annotator.services.annotations import annotation_create, annotation_delete
from annotator.services.review import locked_image, record_transition, settle_image


@transaction.atomic
def annotation_add(*, image: Image, author: User, **fields) -> Annotation:
    """Create an annotation. While the image is under review (a reviewer or manager adding a missed
    object) it is created `approved`, with its audit row: the reviewer's own object needs no decision
    and does not keep the image from settling."""
    image = locked_image(image)
    if image.review_status != ImageReviewStatus.SUBMITTED:
        return annotation_create(image=image, author=author, **fields)
    fields["status"] = AnnotationStatus.APPROVED
    annotation = annotation_create(image=image, author=author, **fields)
    record_transition(
        image=image,
        annotation=annotation,
        actor=author,
        from_status=AnnotationStatus.DRAFT,
        to_status=AnnotationStatus.APPROVED,
        comment="Added during review.",
    )
    return annotation


@transaction.atomic
def annotation_remove(*, annotation: Annotation, actor: User) -> None:
    """Delete an annotation. During review (a reviewer or manager deleting a wrong object) the image
    settles afterwards when every remaining annotation is decided."""
    image = locked_image(annotation.image)
    annotation_delete(annotation=annotation)
    if image.review_status == ImageReviewStatus.SUBMITTED:
        settle_image(image, reviewer=actor)
