"""A real Celery worker process for integration tests: Redis broker, the test database, this media.

`use_broker` points this process's Celery app (and the live server's thread) at an emptied Redis
database; `run_worker` starts `celery worker` as a subprocess against the same database and media,
waits until it is ready and stops it afterwards.
"""

from __future__ import annotations

import contextlib
import json
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
# Every queue settings.CELERY_TASK_ROUTES names (scripts/run.sh serves them with two workers).
ALL_QUEUES = "default,embeddings,training"
# A Redis URL nothing listens on (port 1 is privileged and closed): a broker that is down.
UNREACHABLE_BROKER_URL = "redis://127.0.0.1:1/0"
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
    # The pools are left open: kombu keeps them per broker URL process-wide (app._pool is that
    # registry's entry), so closing one would hand a closed pool to the next test of this URL.
    yield broker_url


@contextlib.contextmanager
def unreachable_broker(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Point this process's Celery app at a broker that refuses connections (the broker is down)."""
    from config.celery import app

    saved_pool, saved_producers = app._pool, app.amqp._producer_pool
    saved_url, saved_env = app.conf.broker_url, os.environ.get("CELERY_BROKER_URL")
    monkeypatch.setattr(app.conf, "broker_url", UNREACHABLE_BROKER_URL)
    # Celery reads CELERY_BROKER_URL from the environment before its config (CI sets it).
    monkeypatch.setenv("CELERY_BROKER_URL", UNREACHABLE_BROKER_URL)
    monkeypatch.setattr(app, "_pool", None)
    monkeypatch.setattr(app.amqp, "_producer_pool", None)
    try:
        yield UNREACHABLE_BROKER_URL
    finally:
        # Pools are not closed: kombu keeps producer pools per connection URL process-wide, and a
        # closed one would be handed to the next test (it holds no open connection anyway).
        monkeypatch.setattr(app.conf, "broker_url", saved_url)
        if saved_env is None:
            monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
        else:
            monkeypatch.setenv("CELERY_BROKER_URL", saved_env)
        monkeypatch.setattr(app, "_pool", saved_pool)
        monkeypatch.setattr(app.amqp, "_producer_pool", saved_producers)


@contextlib.contextmanager
def use_filesystem_broker(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Send this process's tasks to the embedded filesystem broker under the test var dir, whatever
    CELERY_BROKER_URL says (CI sets Redis): tests that read what was sent use queued_sends."""
    from config.celery import app

    folder = Path(settings.MEDIA_ROOT).parent / "broker-sends"
    options = {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),
        "store_processed": False,
    }
    for name in ("queue", "processed", "control"):
        (folder / name).mkdir(parents=True, exist_ok=True)
    for old in (folder / "queue").glob("*.msg"):
        old.unlink()
    monkeypatch.setattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", options)
    monkeypatch.setitem(app.conf, "broker_transport_options", options)
    with use_broker_url(monkeypatch, "filesystem://"):
        yield folder


@contextlib.contextmanager
def use_broker_url(monkeypatch: pytest.MonkeyPatch, broker_url: str) -> Iterator[str]:
    """Point this process's Celery app at broker_url (no flush), restoring the old one after."""
    from config.celery import app

    saved_pool, saved_producers = app._pool, app.amqp._producer_pool
    monkeypatch.setattr(app.conf, "broker_url", broker_url)
    monkeypatch.setenv("CELERY_BROKER_URL", broker_url)
    monkeypatch.setattr(app, "_pool", None)
    monkeypatch.setattr(app.amqp, "_producer_pool", None)
    try:
        yield broker_url
    finally:
        monkeypatch.setattr(app, "_pool", saved_pool)
        monkeypatch.setattr(app.amqp, "_producer_pool", saved_producers)


def queued_sends(task_name: str) -> list[str]:
    """argsrepr of every message of this task waiting in the filesystem broker (the embedded
    default, or use_filesystem_broker's), e.g. ["(12,)"]: what a test sent, with no worker consuming."""
    folder = Path(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_in"])
    sends = []
    for path in sorted(folder.glob("*.msg")):
        try:
            headers = json.loads(path.read_text())["headers"]
        except (OSError, ValueError, KeyError):
            continue
        if headers.get("task") == task_name:
            sends.append(headers.get("argsrepr", ""))
    return sends


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
