"""A real Celery worker process for integration tests: Redis broker, the test database, this media.

`use_broker` points this process's Celery app (and the live server's thread) at an emptied Redis
database; `run_worker` starts `celery worker` as a subprocess against the same database and media,
waits until it is ready and stops it afterwards.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

REPO_ROOT = Path(__file__).resolve().parents[1]
# Every queue settings.CELERY_TASK_ROUTES names, as the CPU worker of scripts/run.sh consumes them.
ALL_QUEUES = "default,embeddings,training"
READY_TIMEOUT_S = 60


def test_database_url() -> str:
    """DATABASE_URL of the database pytest-django created, for the worker subprocess."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    return f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


test_database_url.__test__ = False  # a helper, not a test


@contextlib.contextmanager
def use_broker(monkeypatch: pytest.MonkeyPatch, broker_url: str) -> Iterator[str]:
    import redis

    from config.celery import app

    redis.Redis.from_url(broker_url).flushdb()
    monkeypatch.setattr(app.conf, "broker_url", broker_url)
    # Celery reads CELERY_BROKER_URL from the environment before its config (CI sets it).
    monkeypatch.setenv("CELERY_BROKER_URL", broker_url)
    # Drop pools built for another broker, so the next send connects to this one.
    monkeypatch.setattr(app, "_pool", None)
    monkeypatch.setattr(app.amqp, "_producer_pool", None)
    try:
        yield broker_url
    finally:
        if app._pool is not None:
            app._pool.force_close_all()


@contextlib.contextmanager
def run_worker(*, broker_url: str, queues: str, name: str, log_path: Path, extra_env: dict | None = None):
    """Yields (process, log_path) once the worker printed "ready."; fails the test with its log if not."""
    env = {
        **os.environ,
        "DATABASE_URL": test_database_url(),
        "CELERY_BROKER_URL": broker_url,
        "DJANGO_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        **(extra_env or {}),
    }
    log = open(log_path, "w+")  # noqa: SIM115 (kept open for the worker process's lifetime)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "-Q",
            queues,
            "--pool=solo",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            "-l",
            "INFO",
            "-n",
            f"{name}-{os.getpid()}@%h",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while "ready." not in log_path.read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the Celery worker did not start; its log:\n{log_path.read_text()[-4000:]}")
            time.sleep(0.2)
        yield process, log_path
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
