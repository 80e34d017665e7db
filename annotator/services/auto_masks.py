"""Segment everything as a job: the engine returns each image's masks, this service turns them into
draft annotations, image by image, with progress and cancel."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from annotator.models import (
    AnnotationSource,
    AutoMaskJob,
    AutoMaskJobStatus,
    Export,
    ExportStatus,
    Image,
    LabelClass,
    Project,
)
from annotator.selectors_embeddings import project_model
from annotator.services.annotations import annotation_create
from annotator.services.embeddings import embedding_source
from common.tasks import enqueue_on_commit
from segmentation.services.auto_masks import auto_mask_params_clean, auto_masks_for_image

logger = logging.getLogger(__name__)

AUTO_MASKS_COMPUTE_TASK = "annotator.tasks.auto_masks_compute"


class BulkJobLimitReached(Exception):
    """The project has ANNOTATOR_MAX_BULK_JOBS_PER_PROJECT bulk jobs queued or running (answer 429)."""


def bulk_jobs_active(project: Project) -> int:
    """The project's bulk jobs queued or running: segment-everything jobs and exports."""
    jobs = AutoMaskJob.objects.filter(
        project=project, status__in=[AutoMaskJobStatus.PENDING, AutoMaskJobStatus.RUNNING]
    ).count()
    return jobs + Export.objects.filter(project=project, status__in=[ExportStatus.QUEUED, ExportStatus.RUNNING]).count()


@transaction.atomic
def auto_mask_job_create(
    *,
    project: Project,
    user: User | None,
    label_class: LabelClass,
    image: Image | None = None,
    params: dict[str, Any] | None = None,
) -> AutoMaskJob:
    if label_class.project_id != project.pk:
        raise ValidationError({"label_class": "The label class belongs to another project."})
    if image is not None and image.project_id != project.pk:
        raise ValidationError({"image": "The image belongs to another project."})
    image_ids = [image.pk] if image else list(project.images.order_by("id").values_list("id", flat=True))
    # Serialized per project (row lock), so two requests at once cannot both pass the cap.
    Project.objects.select_for_update().filter(pk=project.pk).exists()
    active = bulk_jobs_active(project)
    if active >= settings.ANNOTATOR_MAX_BULK_JOBS_PER_PROJECT:
        raise BulkJobLimitReached(
            f"This project already has {active} bulk jobs (segment everything, exports) queued or running; "
            f"at most {settings.ANNOTATOR_MAX_BULK_JOBS_PER_PROJECT} at once. Wait for one to finish or cancel one."
        )
    job = AutoMaskJob.objects.create(
        project=project,
        image=image,
        label_class=label_class,
        params=auto_mask_params_clean(params or {}),
        image_ids=image_ids,
        created_by=user,
    )
    enqueue_on_commit(AUTO_MASKS_COMPUTE_TASK, job.pk)
    return job


def auto_mask_job_cancel(*, job: AutoMaskJob) -> AutoMaskJob:
    """Ask the running job to stop after the image it is on; a pending job stops at once."""
    AutoMaskJob.objects.filter(pk=job.pk).update(cancel_requested=True)
    AutoMaskJob.objects.filter(pk=job.pk, status=AutoMaskJobStatus.PENDING).update(
        status=AutoMaskJobStatus.CANCELLED, finished_at=timezone.now()
    )
    job.refresh_from_db()
    return job


def _masks_for_image(image: Image, params: dict[str, Any]) -> list[dict]:
    return auto_masks_for_image(
        model=project_model(image.project),
        source=embedding_source(image),
        height=image.height,
        width=image.width,
        params=params,
    )


def auto_masks_compute(job_id: int) -> AutoMaskJob:
    """Run the job image by image; each image's drafts commit with its progress mark (idempotent)."""
    job = AutoMaskJob.objects.select_related("project", "label_class").get(pk=job_id)
    if job.status in (AutoMaskJobStatus.DONE, AutoMaskJobStatus.CANCELLED, AutoMaskJobStatus.FAILED):
        return job
    AutoMaskJob.objects.filter(pk=job.pk).update(status=AutoMaskJobStatus.RUNNING)
    try:
        for image_id in job.image_ids:
            job.refresh_from_db(fields=["cancel_requested", "done_image_ids", "annotations_created"])
            if job.cancel_requested:
                AutoMaskJob.objects.filter(pk=job.pk).update(
                    status=AutoMaskJobStatus.CANCELLED, finished_at=timezone.now()
                )
                return AutoMaskJob.objects.get(pk=job.pk)
            if image_id in job.done_image_ids:
                continue
            image = Image.objects.select_related("project", "project__sam_model").filter(pk=image_id).first()
            masks = _masks_for_image(image, job.params) if image is not None else []
            with transaction.atomic():
                locked = AutoMaskJob.objects.select_for_update().get(pk=job.pk)
                for mask in masks:
                    annotation_create(
                        image=image,
                        label_class=job.label_class,
                        source=AnnotationSource.AUTO,
                        rle=mask["rle"],
                        prompts={"points": [[*mask["point"], 1]]},
                        author=job.created_by,
                        status="draft",
                    )
                locked.done_image_ids = [*locked.done_image_ids, image_id]
                locked.annotations_created += len(masks)
                locked.save(update_fields=["done_image_ids", "annotations_created", "updated_at"])
    except Exception as exc:
        logger.exception("Auto-mask job %s failed", job_id)
        AutoMaskJob.objects.filter(pk=job.pk).update(
            status=AutoMaskJobStatus.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000], finished_at=timezone.now()
        )
        return AutoMaskJob.objects.get(pk=job.pk)
    AutoMaskJob.objects.filter(pk=job.pk).update(status=AutoMaskJobStatus.DONE, finished_at=timezone.now())
    return AutoMaskJob.objects.get(pk=job.pk)
