"""common.tasks: services enqueue by registered task name, and settings route every name to a queue."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

from common.tasks import registered_task

ROOT = Path(__file__).resolve().parent.parent.parent


def test_every_routed_name_is_a_registered_task_and_every_task_is_routed():
    for name in settings.CELERY_TASK_ROUTES:
        assert registered_task(name).name == name
    all_tasks = registered_task(next(iter(settings.CELERY_TASK_ROUTES))).app.tasks
    ours = {name for name in all_tasks if name.startswith(("annotator.", "segmentation."))}
    assert ours == set(settings.CELERY_TASK_ROUTES)  # queues are named in that one place


def test_a_fresh_process_finds_tasks_it_never_imported():
    """A web process imports no tasks module; the first enqueue must still find the task by name."""
    script = (
        "import sys, django; django.setup()\n"
        "assert 'segmentation.tasks' not in sys.modules and 'annotator.tasks' not in sys.modules\n"
        "from common.tasks import registered_task\n"
        "print(registered_task('segmentation.tasks.embedding_compute').name)\n"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings"}
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "segmentation.tasks.embedding_compute"
