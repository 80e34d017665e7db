"""Celery tasks of the annotator app: take ids, call one service (queue "default")."""

from __future__ import annotations

from celery import shared_task

from annotator.services import exports, images, renditions


@shared_task(acks_late=True, queue="default")
def export_run(export_id: int) -> None:
    exports.export_run(export_id)


@shared_task(acks_late=True, queue="default")
def dicom_render(project_id: int, generation: int | None = None) -> None:
    """Re-render a project's DICOM images with its window (after a change), and their embeddings;
    a run whose generation a newer change superseded stops (services.images.images_render_dicom)."""
    images.images_render_dicom(project_id=project_id, generation=generation)


@shared_task(acks_late=True, queue="default")
def display_renditions_make(image_ids: list[int]) -> None:
    """Scale very large images for the browser right after upload (services.renditions)."""
    renditions.renditions_make(image_ids)
