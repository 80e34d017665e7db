"""Reads for the review workflow: jobs, an annotator's queue, the audit trail and progress metrics."""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db.models import Case, Count, Exists, OuterRef, Q, QuerySet, Sum, Value, When
from django.http import Http404

from annotator.models import (
    Annotation,
    AnnotationSource,
    AnnotationStatus,
    Image,
    ImageReviewStatus,
    Job,
    Project,
    Role,
    StatusTransition,
)
from annotator.selectors_activity import active_time_by_author

# "Accepted from SAM" counts the interactive SAM tools only (docs/review.md).
SAM_PROMPT_SOURCES = (AnnotationSource.SAM_CLICK, AnnotationSource.SAM_BOX)
# Progress buckets in display order; "in_progress" is a new image that already has annotations.
PROGRESS_STATUSES = ("not_started", "in_progress", "submitted", "rejected", "approved")
QUEUE_STATUSES = (ImageReviewStatus.NEW, ImageReviewStatus.REJECTED)


def job_list(*, project: Project) -> QuerySet[Job]:
    """Jobs with image_count and one count per image review status."""
    counts = {
        f"{status}_count": Count("images", filter=Q(images__review_status=status))
        for status in ImageReviewStatus.values
    }
    return (
        Job.objects.filter(project=project)
        .select_related("annotator", "reviewer")
        .annotate(image_count=Count("images"), **counts)
        .order_by("id")
    )


def job_in_project(*, project: Project, job_id: int) -> Job:
    job = job_list(project=project).filter(pk=job_id).first()
    if job is None:
        raise Http404("No such job.")
    return job


def _images_open_to(project: Project, user: User, role: str) -> QuerySet[Image]:
    """The images this member annotates (the same rule as access.image_open_to_annotator)."""
    images = Image.objects.filter(project=project)
    if role == Role.MANAGER:
        return images
    if Job.objects.filter(project=project).exists():
        return images.filter(job__annotator=user)
    return images


@dataclass(frozen=True)
class Queue:
    images: list[Image]  # work left, rejections first, then by id
    next_image: Image | None
    rejected_annotations: list[Annotation]  # rejected annotations on those images, with comments
    done_count: int  # images of this member's that are submitted or approved


def queue_for_user(*, project: Project, user: User, role: str) -> Queue:
    if role == Role.REVIEWER:
        return Queue(images=[], next_image=None, rejected_annotations=[], done_count=0)
    open_images = _images_open_to(project, user, role)
    rejected_first = Case(When(review_status=ImageReviewStatus.REJECTED, then=Value(0)), default=Value(1))
    images = list(
        open_images.filter(review_status__in=QUEUE_STATUSES)
        .annotate(annotation_count=Count("annotations"))
        .alias(rejected_first=rejected_first)
        .select_related("job")
        .order_by("rejected_first", "id")
    )
    rejected = list(
        Annotation.objects.filter(image__in=[i.pk for i in images], status=AnnotationStatus.REJECTED)
        .select_related("label_class", "image")
        .order_by("image_id", "id")
    )
    done = open_images.exclude(review_status__in=QUEUE_STATUSES).count()
    return Queue(
        images=list(images), next_image=images[0] if images else None, rejected_annotations=rejected, done_count=done
    )


def review_list(*, project: Project, user: User, role: str) -> QuerySet[Image]:
    """Submitted images this member may review (a job's named reviewer keeps its images to themself)."""
    images = Image.objects.filter(project=project, review_status=ImageReviewStatus.SUBMITTED)
    if role != Role.MANAGER:
        images = images.filter(Q(job__isnull=True) | Q(job__reviewer__isnull=True) | Q(job__reviewer=user))
    return images.select_related("job").annotate(annotation_count=Count("annotations")).order_by("id")


def review_annotations(*, images: list[Image]) -> dict[int, list[Annotation]]:
    rows = Annotation.objects.filter(image__in=[i.pk for i in images]).select_related("label_class", "author")
    grouped: dict[int, list[Annotation]] = {image.pk: [] for image in images}
    for annotation in rows.order_by("id"):
        grouped[annotation.image_id].append(annotation)
    return grouped


def transition_list(*, project: Project, image_id: int | None = None) -> QuerySet[StatusTransition]:
    rows = StatusTransition.objects.filter(project=project).select_related("actor", "annotation_author")
    if image_id is not None:
        rows = rows.filter(image_id=image_id)
    return rows.order_by("-created_at", "-id")


def progress_counts(*, project: Project) -> dict[str, int]:
    """Images per progress bucket, every bucket present."""
    has_annotations = Exists(Annotation.objects.filter(image=OuterRef("pk")))
    rows = (
        Image.objects.filter(project=project)
        .annotate(has_annotations=has_annotations)
        .values("review_status", "has_annotations")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts = dict.fromkeys(PROGRESS_STATUSES, 0)
    for row in rows:
        status = row["review_status"]
        if status == ImageReviewStatus.NEW:
            status = "in_progress" if row["has_annotations"] else "not_started"
        counts[status] += row["n"]
    return counts


def _ratio(numerator: float, denominator: float, digits: int = 3) -> float | None:
    return round(numerator / denominator, digits) if denominator else None


def annotator_metrics(*, project: Project) -> list[dict]:
    """Per author: objects, time, throughput, clicks, SAM acceptance and rejection rate (None when undefined).

    The rejection rate counts review decisions in the audit trail (a rejection fixed and later approved
    still counts), so it measures first-time quality rather than the current state.
    """
    per_author = (
        Annotation.objects.filter(image__project=project, author__isnull=False)
        .values("author_id", "author__username")
        .annotate(
            objects=Count("pk"),  # type: ignore[no-redef]  # the metric is called "objects"; not the manager
            time_ms=Sum("time_spent_ms"),
            clicks=Sum("click_count"),
            sam_accepted=Count("pk", filter=Q(source__in=SAM_PROMPT_SOURCES, edited_after_sam=False)),
        )
        .order_by("author__username")
    )
    reviews = (
        StatusTransition.objects.filter(
            project=project,
            annotation_author__isnull=False,
            to_status__in=(AnnotationStatus.APPROVED, AnnotationStatus.REJECTED),
        )
        .values("annotation_author_id")
        .annotate(reviewed=Count("pk"), rejected=Count("pk", filter=Q(to_status=AnnotationStatus.REJECTED)))
        .order_by()
    )
    review_by_author = {row["annotation_author_id"]: row for row in reviews}
    activity = active_time_by_author(project=project)
    result = []
    for row in per_author:
        objects, time_ms, clicks = row["objects"], row["time_ms"] or 0, row["clicks"] or 0  # type: ignore[misc]  # django-stubs misses the annotate() keys
        review = review_by_author.get(row["author_id"], {"reviewed": 0, "rejected": 0})
        active = activity.get(row["author_id"], {"active_ms": 0, "idle_gaps": 0, "idle_ms": 0})
        result.append(
            {
                "user_id": row["author_id"],
                "username": row["author__username"],
                "objects": objects,
                "hours": round(time_ms / 3_600_000, 4),
                "objects_per_hour": _ratio(objects * 3_600_000, time_ms, 2),
                "seconds_per_object": _ratio(time_ms / 1000, objects, 2),
                "clicks_per_object": _ratio(clicks, objects, 2),
                "sam_accepted_share": _ratio(row["sam_accepted"], objects),
                # Server-side active time (annotator.selectors_activity): idle gaps over 60 s left out.
                "active_hours": round(active["active_ms"] / 3_600_000, 4),
                "objects_per_active_hour": _ratio(objects * 3_600_000, active["active_ms"], 2),
                "idle_gaps": active["idle_gaps"],
                "idle_hours": round(active["idle_ms"] / 3_600_000, 4),
                "reviewed": review["reviewed"],
                "rejected": review["rejected"],
                "rejection_rate": _ratio(review["rejected"], review["reviewed"]),
            }
        )
    return result


def label_metrics(*, project: Project) -> list[dict]:
    rows = (
        project.label_classes.annotate(
            objects=Count("annotations"),  # type: ignore[no-redef]  # the metric is called "objects"; not the manager
            approved=Count("annotations", filter=Q(annotations__status=AnnotationStatus.APPROVED)),
        )
        .order_by("order", "id")
        .values("id", "name", "color", "objects", "approved")
    )
    return [dict(row) for row in rows]


def project_metrics(*, project: Project) -> dict:
    progress = progress_counts(project=project)
    total = sum(progress.values())
    return {
        "images": total,
        "progress": progress,
        "progress_percent": {k: round(100 * v / total, 1) if total else 0.0 for k, v in progress.items()},
        "annotators": annotator_metrics(project=project),
        "labels": label_metrics(project=project),
    }


def metrics_csv_rows(metrics: dict) -> list[list]:
    """The metrics as long-format rows (section, name, metric, value), one table for any spreadsheet."""
    rows: list[list] = [["section", "name", "metric", "value"]]
    for status, count in metrics["progress"].items():
        rows.append(["progress", status, "images", count])
    for row in metrics["annotators"]:
        for metric in (
            "objects",
            "hours",
            "objects_per_hour",
            "seconds_per_object",
            "clicks_per_object",
            "sam_accepted_share",
            "active_hours",
            "objects_per_active_hour",
            "idle_gaps",
            "idle_hours",
            "reviewed",
            "rejected",
            "rejection_rate",
        ):
            rows.append(["annotator", row["username"], metric, "" if row[metric] is None else row[metric]])
    for row in metrics["labels"]:
        rows.append(["label", row["name"], "objects", row["objects"]])
        rows.append(["label", row["name"], "approved", row["approved"]])
    return rows
