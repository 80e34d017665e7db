"""What the fault tests share: the embedding worker they start, and waiting with a bounded time."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from django.conf import settings

from annotator.models import Image
from tests.celery_worker import run_worker
from tests.factories import image_with_embedding_status

# Generous for a loaded 2-core CI machine; each wait fails with the worker's log when it runs out.
READY_WITHIN_S = 120
WORKER_ENV = {"SAM_CHECKPOINT_DIR": str(settings.SEGMENTATION_CHECKPOINT_DIR), "SAM_DEVICE": "cpu"}


def embedding_worker(broker: str, tmp_path: Path, name: str):
    """A real Celery worker on the interactive queue ("embeddings"), as scripts/run.sh starts it."""
    return run_worker(
        broker_url=broker, queues="embeddings", name=name, log_path=tmp_path / f"{name}.log", extra_env=WORKER_ENV
    )


def wait_until(predicate: Callable[[], bool], timeout: float, what: str, log_path: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    log = log_path.read_text()[-3000:] if log_path and log_path.exists() else ""
    raise AssertionError(f"{what} did not happen within {timeout} s\n{log}")


def embedding_status(image: Image) -> str:
    return image_with_embedding_status(image).embedding_status
