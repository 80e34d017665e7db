"""Enqueue Celery tasks by their registered name, so services never import tasks modules (tasks
import services; the reverse would be an import loop). Queues are chosen by CELERY_TASK_ROUTES.

A send never raises into the request: when the broker cannot be reached the error is logged and
the row stays as it is (queued/pending); the periodic reconciler (annotator.services.reconcile)
sends it again later. Callers that want to tell the user (the upload's "embedding will be retried"
note) collect failed sends with `enqueue_failures()`.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator
from typing import Any

from celery import Task, current_app
from django.db import transaction
from kombu.exceptions import KombuError, OperationalError

logger = logging.getLogger(__name__)

# Errors of a send that does not reach the broker (refused or reset connection, DNS, timeout).
BROKER_ERRORS: tuple[type[BaseException], ...] = (OperationalError, KombuError, ConnectionError, OSError, TimeoutError)

_failures: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("enqueue_failures", default=None)


def registered_task(task_name: str) -> Task:
    """The task registered under this name. A worker imports every tasks module at start; a web
    process imports them here, on its first send (the app's autodiscovery over installed apps)."""
    if task_name not in current_app.tasks:
        current_app.loader.import_default_modules()
    return current_app.tasks[task_name]


def enqueue(task_name: str, *args: Any) -> bool:
    """Send the task now (eager mode runs it inline). False when the broker could not be reached:
    logged, recorded for `enqueue_failures()`, never raised (the reconciler sends it later)."""
    task = registered_task(task_name)
    try:
        task.apply_async(args=args, retry=False)
    except BROKER_ERRORS as exc:
        logger.warning(
            "Could not enqueue %s%r (%s: %s); the reconciler will retry", task_name, args, type(exc).__name__, exc
        )
        failures = _failures.get()
        if failures is not None:
            failures.append(task_name)
        return False
    return True


def enqueue_on_commit(task_name: str, *args: Any) -> None:
    """Send the task once the current transaction commits: no task runs for a row not yet written.
    Outside a transaction (autocommit) it is sent at once."""
    transaction.on_commit(lambda: enqueue(task_name, *args))


@contextlib.contextmanager
def enqueue_failures() -> Iterator[list[str]]:
    """Collect the names of tasks whose send failed inside this block (sends deferred to a commit
    after the block are not seen: call it around autocommit code or a whole atomic block)."""
    failures: list[str] = []
    token = _failures.set(failures)
    try:
        yield failures
    finally:
        _failures.reset(token)
