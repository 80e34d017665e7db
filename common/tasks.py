"""Enqueue Celery tasks by their registered name, so services never import tasks modules (tasks
import services; the reverse would be an import loop). Queues are chosen by CELERY_TASK_ROUTES."""

from __future__ import annotations

from typing import Any

from celery import Task, current_app
from django.db import transaction


def registered_task(task_name: str) -> Task:
    """The task registered under this name. A worker imports every tasks module at start; a web
    process imports them here, on its first send (the app's autodiscovery over installed apps)."""
    if task_name not in current_app.tasks:
        current_app.loader.import_default_modules()
    return current_app.tasks[task_name]


def enqueue(task_name: str, *args: Any) -> None:
    """Send the task now (eager mode runs it inline)."""
    registered_task(task_name).delay(*args)


def enqueue_on_commit(task_name: str, *args: Any) -> None:
    """Send the task once the current transaction commits: no task runs for a row not yet written."""
    transaction.on_commit(lambda: enqueue(task_name, *args))
