"""Celery tasks of the annotator app: take ids, call one service (queue "default")."""
from __future__ import annotations

from celery import shared_task

from annotator.services import exports


@shared_task(acks_late=True, queue="default")
def export_run(export_id: int) -> None:
    exports.export_run(export_id)
