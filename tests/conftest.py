"""Suite-wide fixtures: every test gets its own media folder, so no test sees another's files."""

from pathlib import Path

import pytest
from django.conf import settings as django_settings


def pytest_collection_modifyitems(config, items):
    """Skips `@pytest.mark.cuda` tests where torch sees no CUDA device, so they pass on GPU machines
    only by running, never by being collected on a CPU machine and failing."""
    cuda_tests = [item for item in items if item.get_closest_marker("cuda") is not None]
    if not cuda_tests:
        return
    import torch  # only when a CUDA test was collected: importing torch costs seconds

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (torch.cuda.is_available() is False)")
    for item in cuda_tests:
        item.add_marker(skip)


@pytest.fixture(scope="session", autouse=True)
def _broker_folders():
    # kombu's filesystem broker (the embedded default) needs its folders before the first send;
    # transactional tests enqueue on commit.
    options = getattr(django_settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {})
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if key in options:
            Path(options[key]).mkdir(parents=True, exist_ok=True)


@pytest.fixture(autouse=True)
def _isolated_media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.MEDIA_ROOT.mkdir()
    yield


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    # The real hasher costs about a second per login on this 2-core machine; tests don't need it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
