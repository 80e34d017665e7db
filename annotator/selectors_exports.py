"""Reads for exports: plain-dict rows streamed with `.iterator()`, so memory stays flat.

`.values()` skips model instances; `.iterator(chunk_size=...)` keeps Django from caching the whole
result (on PostgreSQL it uses a server-side cursor). Only the columns a format needs are fetched:
an RLE export never loads the polygons, which are the largest column.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import cast

from django.contrib.auth.models import AnonymousUser, User
from django.db.models import QuerySet
from django.http import Http404

from annotator.access import projects_visible_to, role_in_project
from annotator.exports.rows import AnnotationRow, ImageRow
from annotator.models import Annotation, Export, Image, LabelClass, Project

CHUNK_ROWS = 2000
IMAGE_FIELDS = ("id", "original_name", "width", "height", "display", "metadata")
ANNOTATION_FIELDS = ("id", "image_id", "label_class_id", "kind", "bbox", "source", "status", "author__username")


def export_label_classes(*, project: Project, label_class_ids: Sequence[int] | None = None) -> list[dict]:
    """{id, name, color} in the project's order (order, id): the order fixes category numbers."""
    label_classes = LabelClass.objects.filter(project=project)
    if label_class_ids:
        label_classes = label_classes.filter(pk__in=label_class_ids)
    return [dict(row) for row in label_classes.order_by("order", "id").values("id", "name", "color")]


def _images(*, project: Project, job_id: int | None = None):
    images = Image.objects.filter(project=project)
    return images.filter(job_id=job_id) if job_id else images


def _annotations(
    *,
    project: Project,
    statuses: Sequence[str] | None,
    label_class_ids: Sequence[int] | None,
    job_id: int | None = None,
):
    # A propagated proposal the labeler has not accepted yet is not part of any export (docs/dicom.md).
    annotations = Annotation.objects.filter(image__project=project, proposed=False)
    if job_id:
        annotations = annotations.filter(image__job_id=job_id)
    if statuses:
        annotations = annotations.filter(status__in=statuses)
    if label_class_ids:
        annotations = annotations.filter(label_class_id__in=label_class_ids)
    return annotations


def export_counts(
    *,
    project: Project,
    statuses: Sequence[str] | None,
    label_class_ids: Sequence[int] | None,
    job_id: int | None = None,
) -> tuple[int, int]:
    """(images, annotations) an export will write, for progress."""
    return (
        _images(project=project, job_id=job_id).count(),
        _annotations(project=project, statuses=statuses, label_class_ids=label_class_ids, job_id=job_id).count(),
    )


def export_image_rows(*, project: Project, job_id: int | None = None) -> Iterator[ImageRow]:
    rows = _images(project=project, job_id=job_id).order_by("id").values(*IMAGE_FIELDS)
    return cast(Iterator[ImageRow], rows.iterator(chunk_size=CHUNK_ROWS))


def export_annotation_rows(
    *,
    project: Project,
    statuses: Sequence[str] | None,
    label_class_ids: Sequence[int] | None,
    job_id: int | None = None,
    rle: bool = True,
    polygons: bool = False,
) -> Iterator[AnnotationRow]:
    """Rows ordered by (image id, annotation id), the order the writers merge images in."""
    fields = list(ANNOTATION_FIELDS) + (["rle"] if rle else []) + (["polygons"] if polygons else [])
    rows = (
        _annotations(project=project, statuses=statuses, label_class_ids=label_class_ids, job_id=job_id)
        .order_by("image_id", "id")
        .values(*fields)
    )
    return cast(Iterator[AnnotationRow], rows.iterator(chunk_size=CHUNK_ROWS))


def export_list(*, project: Project) -> QuerySet[Export]:
    return project.exports.select_related("requested_by").order_by("-created_at", "-id")


def export_for_user(user: User | AnonymousUser, export_id: int) -> tuple[Export, str]:
    """(export, the user's role in its project); Http404 for a non-member, as for every project object."""
    export = (
        Export.objects.select_related("project", "requested_by")
        .filter(pk=export_id, project__in=projects_visible_to(user))
        .first()
    )
    if export is None:
        raise Http404("No such export.")
    return export, role_in_project(user, export.project)
