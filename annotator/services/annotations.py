"""Annotation writes: validated, geometry derived (polygons <-> RLE, bbox, area), optimistic locking.

A change of geometry or label class while the image is `submitted` is a reviewer's (or manager's)
correction: access rules allow no one else then. It is recorded in the audit trail as a
StatusTransition row with to_status "corrected" (the annotation's status itself does not change), one
row per run of corrections by the same person in one review round; a SAM annotation also gets
edited_after_sam, and the version is bumped as for every update.

The same change to an approved annotation while its image is `new` or `rejected` (outside review)
puts the annotation back to draft, with its audit row, so that the next submit sends the changed
annotation to review again. Statuses otherwise change only in annotator.services.review.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from annotator import geometry
from annotator import limits as input_limits
from annotator.models import (
    Annotation,
    AnnotationKind,
    AnnotationSource,
    AnnotationStatus,
    Image,
    ImageReviewStatus,
    LabelClass,
    StatusTransition,
)
from annotator.services.review import SUBMITTABLE

SAM_SOURCES = frozenset({AnnotationSource.SAM_CLICK, AnnotationSource.SAM_BOX, AnnotationSource.AUTO})
GEOMETRY_FIELDS = frozenset({"rle", "polygons"})
EFFORT_FIELDS = ("time_spent_ms", "click_count", "vertex_count", "stroke_count")
UPDATABLE_FIELDS = frozenset({"label_class", "rle", "polygons", "bbox", "prompts", "review_comment", *EFFORT_FIELDS})
# to_status of an audit row that records a correction made during review (not an annotation status).
CORRECTED = "corrected"
# What a correction (or a change after review) can be about, in the order the audit comment names them.
CHANGED_PARTS = ("geometry", "label class")


class AnnotationConflict(Exception):
    """The update was based on an old version; `current` is the annotation as it is now."""

    def __init__(self, current: Annotation):
        super().__init__(
            f"Annotation {current.pk} was changed by someone else (now version {current.version}); "
            "reload it and apply your change again."
        )
        self.current = current


@dataclass(frozen=True)
class _Geometry:
    rle: dict
    polygons: list
    bbox: list[float]
    area: int


def _derive_geometry(*, image: Image, rle: dict | None, polygons: list | None) -> _Geometry:
    """Check what was given, then derive the rest; nothing is decoded before its size is known.

    The RLE is the mask of record: when both are given, the polygons are checked and then derived
    from the RLE again, so the two never disagree.
    """
    if rle is None and polygons is None:
        raise ValidationError({"geometry": "Give a mask as rle, polygons, or both."})
    limits = input_limits.geometry_limits()
    try:
        if polygons is not None:
            polygons = geometry.validate_polygons(polygons, width=image.width, height=image.height, limits=limits)
        if rle is not None:
            try:
                geometry.check_rle(rle, width=image.width, height=image.height, limits=limits)
            except geometry.GeometryError as exc:
                raise ValidationError({"rle": str(exc)}) from exc
            rle = geometry.rle_normalize(rle)
            polygons = geometry.rle_to_polygons(rle)
        elif polygons is not None:
            rle = geometry.polygons_to_rle(polygons, width=image.width, height=image.height)
    except geometry.GeometryError as exc:
        raise ValidationError({"geometry": str(exc)}) from exc
    assert rle is not None and polygons is not None
    area = geometry.rle_area(rle)
    if area == 0:
        raise ValidationError({"geometry": "The mask is empty."})
    return _Geometry(rle=rle, polygons=polygons, bbox=geometry.rle_bbox(rle), area=area)


def _box_geometry(*, image: Image, bbox: Any, rle: dict | None, polygons: list | None) -> _Geometry:
    """A box annotation: the box as drawn (floats, COCO's [x, y, w, h]) is the shape of record; its
    polygons and RLE are the rectangle, so mask readers (canvas, PNG masks, DICOM SEG) draw it. A
    box thinner than a pixel may rasterise to an empty mask: it is still a valid box."""
    if rle is not None or polygons is not None:
        raise ValidationError({"geometry": "A box annotation is given by bbox [x, y, width, height] only."})
    if bbox is None:
        raise ValidationError({"bbox": "A box annotation needs bbox [x, y, width, height]."})
    try:
        box = geometry.validate_box(bbox, width=image.width, height=image.height)
    except geometry.GeometryError as exc:
        raise ValidationError({"bbox": str(exc)}) from exc
    polygons = geometry.box_polygons(box)
    rle = geometry.polygons_to_rle(polygons, width=image.width, height=image.height)
    return _Geometry(rle=rle, polygons=polygons, bbox=box, area=geometry.rle_area(rle))


def _shape(*, image: Image, kind: str, rle: dict | None, polygons: list | None, bbox: Any) -> _Geometry:
    if kind == AnnotationKind.BOX:
        return _box_geometry(image=image, bbox=bbox, rle=rle, polygons=polygons)
    if bbox is not None:
        raise ValidationError({"bbox": "A mask's bbox is derived from the mask; only box annotations take one."})
    return _derive_geometry(image=image, rle=rle, polygons=polygons)


def _check_label_class(image: Image, label_class: LabelClass) -> None:
    if label_class.project_id != image.project_id:
        raise ValidationError({"label_class": "The label class belongs to another project."})


def _check_choices(*, source: str | None = None, status: str | None = None, kind: str | None = None) -> None:
    if kind is not None and kind not in AnnotationKind.values:
        raise ValidationError({"kind": f"Unknown kind {kind!r}; one of {AnnotationKind.values}."})
    if source is not None and source not in AnnotationSource.values:
        raise ValidationError({"source": f"Unknown source {source!r}; one of {AnnotationSource.values}."})
    if status is not None and status not in AnnotationStatus.values:
        raise ValidationError({"status": f"Unknown status {status!r}; one of {AnnotationStatus.values}."})


def _check_prompts(prompts: Any) -> None:
    if not isinstance(prompts, dict):
        raise ValidationError({"prompts": 'Prompts must be an object: {"points": [[x, y, label], ...], "box": [...]}.'})
    problem = input_limits.prompts_problem(prompts)
    if problem:
        raise ValidationError({"prompts": problem})


@transaction.atomic
def annotation_create(
    *,
    image: Image,
    label_class: LabelClass,
    source: str,
    rle: dict | None = None,
    polygons: list | None = None,
    prompts: dict | None = None,
    author: User | None = None,
    status: str = AnnotationStatus.DRAFT,
    kind: str = AnnotationKind.MASK,
    bbox: list | None = None,
    time_spent_ms: int = 0,
    click_count: int = 0,
    vertex_count: int = 0,
    stroke_count: int = 0,
) -> Annotation:
    _check_label_class(image, label_class)
    _check_choices(source=source, status=status, kind=kind)
    prompts = prompts or {}
    _check_prompts(prompts)
    shape = _shape(image=image, kind=kind, rle=rle, polygons=polygons, bbox=bbox)
    annotation = Annotation(
        kind=kind,
        image=image,
        label_class=label_class,
        source=source,
        rle=shape.rle,
        polygons=shape.polygons,
        bbox=shape.bbox,
        area=shape.area,
        prompts=prompts,
        author=author,
        status=status,
        time_spent_ms=time_spent_ms,
        click_count=click_count,
        vertex_count=vertex_count,
        stroke_count=stroke_count,
    )
    annotation.save()
    return annotation


def annotation_update(*, annotation: Annotation, version: int, actor=None, **changes: Any) -> Annotation:
    """Apply changes if `version` is still current; AnnotationConflict otherwise. Returns the fresh row.

    The status is not among the changes (review services set it); an approved annotation changed
    outside review goes back to draft, written to the audit trail in the same transaction.

    The write is one conditional UPDATE (WHERE version = given), so two concurrent editors cannot both
    win on any database, and the loser learns the current version instead of overwriting silently.
    """
    unknown = set(changes) - UPDATABLE_FIELDS
    if unknown:
        raise ValidationError(dict.fromkeys(sorted(unknown), "This field cannot be changed."))
    if not isinstance(version, int) or isinstance(version, bool):
        raise ValidationError({"version": "The version this edit was based on is required (an integer)."})
    image = annotation.image
    values: dict[str, Any] = {}
    corrected: list[str] = []
    if "label_class" in changes:
        _check_label_class(image, changes["label_class"])
        values["label_class"] = changes["label_class"]
        if changes["label_class"].pk != annotation.label_class_id:
            corrected.append("label class")
    if "prompts" in changes:
        _check_prompts(changes["prompts"])
        values["prompts"] = changes["prompts"]
    for name in ("review_comment", *EFFORT_FIELDS):
        if name in changes:
            values[name] = changes[name]
    if (GEOMETRY_FIELDS | {"bbox"}) & set(changes):
        # New polygons without an RLE replace the mask; a new RLE without polygons re-derives them.
        shape = _shape(
            image=image,
            kind=annotation.kind,
            rle=changes.get("rle"),
            polygons=changes.get("polygons"),
            bbox=changes.get("bbox"),
        )
        values.update(rle=shape.rle, polygons=shape.polygons, bbox=shape.bbox, area=shape.area)
        changed_mask = shape.rle != geometry.rle_normalize(annotation.rle or shape.rle) or (
            annotation.kind == AnnotationKind.BOX and shape.bbox != annotation.bbox
        )
        if annotation.source in SAM_SOURCES and changed_mask:
            values["edited_after_sam"] = True
        if changed_mask:
            corrected.append("geometry")
        if changed_mask and annotation.proposed:
            values["proposed"] = False  # editing a propagated proposal accepts it (services.propagation)
    # An approved annotation changed before the image is (re)submitted must be reviewed again; the
    # version condition below guarantees the status read here is still the row's status.
    back_to_draft = (
        bool(corrected) and annotation.status == AnnotationStatus.APPROVED and (image.review_status in SUBMITTABLE)
    )
    if back_to_draft:
        values["status"] = AnnotationStatus.DRAFT
    with transaction.atomic():
        updated = Annotation.objects.filter(pk=annotation.pk, version=version).update(
            **values, version=F("version") + 1, updated_at=timezone.now()
        )
        if updated and back_to_draft:
            StatusTransition.objects.create(
                project_id=image.project_id,
                image=image,
                annotation=annotation,
                annotation_author_id=annotation.author_id,
                actor=actor,
                from_status=annotation.status,
                to_status=AnnotationStatus.DRAFT,
                comment=f"Changed after review: {_parts_text(corrected)}.",
            )
        if updated and corrected and image.review_status == ImageReviewStatus.SUBMITTED:
            _record_correction(annotation=annotation, actor=actor, what=corrected)
        current = Annotation.objects.select_related("label_class", "author", "image").filter(pk=annotation.pk).first()
    if current is None:
        raise Annotation.DoesNotExist(f"Annotation {annotation.pk} no longer exists.")
    if not updated:
        raise AnnotationConflict(current)
    return current


def _parts_text(parts: list[str]) -> str:
    return " and ".join(part for part in CHANGED_PARTS if part in parts)


def _record_correction(*, annotation: Annotation, actor, what: list[str]) -> None:
    """One audit row per run of corrections: a reviewer dragging ten vertices in a row is one correction.

    The run goes on while this annotation's last row is a correction by the same person and the image
    was not (re)submitted since (an approved annotation gets no row of its own on a resubmit); the row
    then names everything corrected in the run.
    """
    last = StatusTransition.objects.filter(annotation=annotation).order_by("-created_at", "-id").first()
    if (
        last is not None
        and last.to_status == CORRECTED
        and last.actor_id == getattr(actor, "pk", None)
        and not StatusTransition.objects.filter(
            image_id=annotation.image_id, annotation=None, to_status=ImageReviewStatus.SUBMITTED, pk__gt=last.pk
        ).exists()
    ):
        run = [part for part in CHANGED_PARTS if part in what or part in last.comment]
        StatusTransition.objects.filter(pk=last.pk).update(comment=f"Corrected during review: {_parts_text(run)}.")
        return
    StatusTransition.objects.create(
        project_id=annotation.image.project_id,
        image_id=annotation.image_id,
        annotation=annotation,
        annotation_author_id=annotation.author_id,
        actor=actor,
        from_status=annotation.status,
        to_status=CORRECTED,
        comment=f"Corrected during review: {_parts_text(what)}.",
    )


@transaction.atomic
def annotation_delete(*, annotation: Annotation) -> None:
    annotation.delete()
