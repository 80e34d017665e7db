"""Celery tasks of the annotator app: take ids, call one service. Queues: CELERY_TASK_ROUTES in settings."""

from __future__ import annotations

from celery import shared_task

from annotator.services import (
    auto_masks,
    dicom_renditions,
    exports,
    finetuning_run,
    propagation,
    reconcile,
    renditions,
)


@shared_task(acks_late=True)
def export_run(export_id: int) -> None:
    exports.export_run(export_id)


@shared_task(acks_late=True)
def dicom_render(project_id: int, generation: int | None = None) -> None:
    """Re-render a project's DICOM images with its window (after a change), and their embeddings;
    a run whose generation a newer change superseded stops (services.dicom_renditions.images_render_dicom)."""
    dicom_renditions.images_render_dicom(project_id=project_id, generation=generation)


@shared_task(acks_late=True)
def display_renditions_make(image_ids: list[int]) -> None:
    """Scale very large images for the browser right after upload (services.renditions)."""
    renditions.renditions_make(image_ids)


@shared_task(acks_late=True)
def auto_masks_compute(job_id: int) -> None:
    """Segment everything for a job (services.auto_masks); needs the SAM model: "embeddings" queue."""
    auto_masks.auto_masks_compute(job_id)


@shared_task(acks_late=True)
def propagation_run(run_id: int) -> None:
    """Propagate an accepted object through its DICOM series (services.propagation); bulk queue."""
    propagation.propagation_run(run_id)


@shared_task(acks_late=True)
def finetune_run(run_id: int) -> None:
    """Fine-tune a project's decoder (services.finetuning_run); "training" queue, CUDA when present.
    A redelivered task for a claimed or finished run does nothing."""
    finetuning_run.finetune_execute(run_id)


@shared_task(acks_late=True)
def reconcile_lost_work() -> None:
    """Send again the work whose task was lost (services.reconcile); run by celery beat."""
    reconcile.reconcile()
