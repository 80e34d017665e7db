"""Jobs: split a project's images into batches and assign each to an annotator and a reviewer."""

from __future__ import annotations

from collections.abc import Sequence

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction

from annotator.models import Image, Job, Membership, Project, Role

# Who may fill each slot of a job: managers may annotate and review too (small teams).
SLOT_ROLES = {"annotator": (Role.ANNOTATOR, Role.MANAGER), "reviewer": (Role.REVIEWER, Role.MANAGER)}


def _check_member(project: Project, user: User | None, slot: str) -> None:
    if user is None or user.is_superuser:
        return
    role = Membership.objects.filter(project=project, user=user).values_list("role", flat=True).first()
    if role not in SLOT_ROLES[slot]:
        allowed = " or ".join(SLOT_ROLES[slot])
        raise ValidationError({slot: f"{user} must be a {allowed} of this project to be a job's {slot}."})


@transaction.atomic
def jobs_split(
    *,
    project: Project,
    count: int | None = None,
    image_ids: Sequence[int] | None = None,
    annotator: User | None = None,
    reviewer: User | None = None,
    name: str = "",
) -> list[Job]:
    """Put images that are in no job yet into new jobs.

    count: every unassigned image, in id order, in jobs of at most `count` images each.
    image_ids: exactly these images in one job (all must be in this project and in no job).
    """
    if (count is None) == (image_ids is None):
        raise ValidationError({"detail": "Give exactly one of count (images per job) or image_ids."})
    _check_member(project, annotator, "annotator")
    _check_member(project, reviewer, "reviewer")
    if image_ids is not None:
        wanted = set(image_ids)
        if not wanted:
            raise ValidationError({"image_ids": "Select at least one image."})
        # Row locks, so two managers splitting at once cannot put one image in two jobs.
        images = list(Image.objects.select_for_update().filter(project=project, pk__in=wanted).order_by("id"))
        if len(images) != len(wanted):
            raise ValidationError({"image_ids": "Some images are not in this project."})
        taken = [image.pk for image in images if image.job_id is not None]
        if taken:
            raise ValidationError({"image_ids": f"Images already in a job: {taken}."})
        batches = [images]
    else:
        if not isinstance(count, int) or count < 1:
            raise ValidationError({"count": "Images per job must be a positive integer."})
        images = list(Image.objects.select_for_update().filter(project=project, job__isnull=True).order_by("id"))
        if not images:
            raise ValidationError({"count": "Every image of this project is already in a job."})
        batches = [images[start : start + count] for start in range(0, len(images), count)]
    first_number = Job.objects.filter(project=project).count() + 1
    jobs = []
    for offset, batch in enumerate(batches):
        label = name or f"Job {first_number + offset}"
        if name and len(batches) > 1:
            label = f"{name} {offset + 1}"
        job = Job.objects.create(project=project, name=label, annotator=annotator, reviewer=reviewer)
        Image.objects.filter(pk__in=[image.pk for image in batch]).update(job=job)
        jobs.append(job)
    return jobs


@transaction.atomic
def job_assign(
    *,
    job: Job,
    annotator: User | None = None,
    reviewer: User | None = None,
    name: str | None = None,
    fields: Sequence[str] = ("annotator", "reviewer"),
) -> Job:
    """Set the job's annotator and/or reviewer (those named in `fields`; None clears the slot)."""
    if "annotator" in fields:
        _check_member(job.project, annotator, "annotator")
        job.annotator = annotator
    if "reviewer" in fields:
        _check_member(job.project, reviewer, "reviewer")
        job.reviewer = reviewer
    if name is not None:
        if not name.strip():
            raise ValidationError({"name": "A job needs a name."})
        job.name = name.strip()
    job.save()
    return job


@transaction.atomic
def job_delete(*, job: Job) -> None:
    """Delete the job; its images stay, unassigned (their annotations and review status are kept)."""
    Image.objects.filter(job=job).update(job=None)
    job.delete()
