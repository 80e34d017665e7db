"""Atomic writes through the storage API (common.storage)."""

from __future__ import annotations

import os

import pytest
from django.core.files.storage import default_storage

from common import storage as blobs


def test_atomic_save_replaces_whole_file_and_leaves_no_temp_files():
    name = "embeddings/test/x.f16"
    blobs.save_atomically(name, b"old contents")
    blobs.save_atomically(name, b"new")  # same name, never a "_abc123" suffix
    assert default_storage.open(name).read() == b"new"
    folder = os.path.dirname(default_storage.path(name))
    assert os.listdir(folder) == ["x.f16"]


def test_failed_write_keeps_the_old_file(monkeypatch):
    name = "embeddings/test/y.f16"
    blobs.save_atomically(name, b"complete old file")

    def broken_replace(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(blobs.os, "replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        blobs.save_atomically(name, b"half")
    assert default_storage.open(name).read() == b"complete old file"
    assert os.listdir(os.path.dirname(default_storage.path(name))) == ["y.f16"]
