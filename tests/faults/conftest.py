"""Broker of the fault tests: CELERY_BROKER_URL when it names Redis (CI: redis://127.0.0.1:6379/3,
emptied first), else the filesystem broker of the test var dir, shared with the worker and web
server subprocesses through ANNOTATOR_VAR_DIR."""

from __future__ import annotations

import os

import pytest

from tests.celery_worker import use_broker


@pytest.fixture
def broker(monkeypatch):
    url = os.environ.get("CELERY_BROKER_URL", "")
    if url.startswith("redis://"):
        with use_broker(monkeypatch, url):
            yield url
    else:
        yield "filesystem://"
