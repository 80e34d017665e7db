"""Blob writes shared by the annotator and the engine: every stored file goes through Django's
storage API, so the same code runs on local disk and on S3-compatible storage."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import IO

from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage, default_storage


def save_atomically(name: str, data: bytes | IO[bytes], storage: Storage | None = None) -> str:
    """Write data (bytes, or a readable binary file copied from its current position in chunks)
    under exactly `name`, so that readers see the old file or the whole new one.

    Local storage: temp file in the same folder + os.replace. Remote storages (S3) have no path;
    there one PUT is already all-or-nothing, so delete + save is enough.
    """
    storage = storage or default_storage
    try:
        final_path = Path(storage.path(name))
    except NotImplementedError:  # remote storage: no local path
        if storage.exists(name):
            storage.delete(name)
        saved = storage.save(name, ContentFile(data) if isinstance(data, bytes) else File(data))
        if saved != name:
            raise RuntimeError(f"Storage saved {name!r} as {saved!r}.") from None
        return name
    final_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=final_path.parent, prefix=f".{final_path.name}.{uuid.uuid4().hex[:8]}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            if isinstance(data, bytes):
                handle.write(data)
            else:
                shutil.copyfileobj(data, handle, 1 << 20)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, final_path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return name
