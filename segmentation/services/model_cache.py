"""Per-process model cache for workers: loaded on first use, never at import or before fork."""

from __future__ import annotations

import threading
from typing import Any

from django.conf import settings

from segmentation.models import SamModel
from segmentation.sam.encoder import resolve_device
from segmentation.sam.loader import load_sam
from segmentation.services.models import file_sha256

_models: dict[str, Any] = {}
_lock = threading.Lock()


class CheckpointChangedError(RuntimeError):
    """The file at the registered path no longer has the registered sha256."""


def get_device() -> Any:
    return resolve_device(settings.SEGMENTATION_DEVICE)


def load_verified_sam(record: SamModel) -> Any:
    """A fresh copy of the record's model on the CPU, after checking that the file at its path still
    has the registered sha256 (embeddings and versions are labelled with it)."""
    actual = file_sha256(record.checkpoint_path)
    if actual != record.checkpoint_sha256:
        raise CheckpointChangedError(
            f"{record.checkpoint_path} has sha256 {actual[:12]}, registered as {record.checkpoint_sha256[:12]}; "
            "register the new file as a new model."
        )
    return load_sam(record.architecture, record.checkpoint_path)


def get_sam(record: SamModel) -> Any:
    """The record's model on the worker's device, keyed by checkpoint sha256 (one load per process)."""
    sam = _models.get(record.checkpoint_sha256)
    if sam is not None:
        return sam
    with _lock:
        sam = _models.get(record.checkpoint_sha256)
        if sam is None:
            sam = load_verified_sam(record).to(get_device())
            _models[record.checkpoint_sha256] = sam
    return sam
