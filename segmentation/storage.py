"""Embedding file format and atomic writes through Django's storage API.

Layout (documented for the browser in docs/embedding-format.md):
  bytes 0..7   magic b"SAMEMB01"
  bytes 8..11  header length L, uint32 little-endian
  bytes 12..   L bytes of UTF-8 JSON: {"shape": [C, h, w], "dtype": "float16", "model_sha256": ...,
               "image_sha256": ...}, space-padded so the data starts at a multiple of 16 bytes
  then         C*h*w little-endian float16 values, C-order
Named embeddings/<model sha256[:16]>/<image sha256>.f16: the key (image content, weights) is the
name, so a re-upload or another project with the same model finds the same file.
"""
from __future__ import annotations

import json
import os
import shutil
import struct
import tempfile
import uuid
from pathlib import Path
from typing import IO

import numpy as np
from django.core.files.base import ContentFile, File
from django.core.files.storage import Storage, default_storage

MAGIC = b"SAMEMB01"
DATA_ALIGNMENT = 16  # lets the browser view the payload as a Float16Array/Uint16Array in place


class EmbeddingFormatError(ValueError):
    pass


def embedding_name(*, model_sha256: str, image_sha256: str) -> str:
    return f"embeddings/{model_sha256[:16]}/{image_sha256}.f16"


def encode_embedding(embedding: np.ndarray, *, model_sha256: str, image_sha256: str) -> bytes:
    """(C, h, w) array -> file bytes (converted to little-endian float16)."""
    if embedding.ndim != 3:
        raise EmbeddingFormatError(f"An embedding is (C, h, w); got shape {embedding.shape}.")
    header = json.dumps(
        {"shape": list(map(int, embedding.shape)), "dtype": "float16",
         "model_sha256": model_sha256, "image_sha256": image_sha256},
        separators=(",", ":"),
    ).encode()
    prefix_len = len(MAGIC) + 4
    padded_len = -(-(prefix_len + len(header)) // DATA_ALIGNMENT) * DATA_ALIGNMENT - prefix_len
    header = header.ljust(padded_len, b" ")
    payload = np.ascontiguousarray(embedding, dtype="<f2").tobytes()
    return MAGIC + struct.pack("<I", len(header)) + header + payload


def decode_embedding(data: bytes) -> tuple[np.ndarray, dict]:
    """File bytes -> ((C, h, w) float16 array, header dict); checks magic, dtype and length."""
    if data[:8] != MAGIC:
        raise EmbeddingFormatError("Not an embedding file (bad magic).")
    (header_len,) = struct.unpack("<I", data[8:12])
    header = json.loads(data[12 : 12 + header_len])
    if header.get("dtype") != "float16":
        raise EmbeddingFormatError(f"Unsupported dtype {header.get('dtype')!r}.")
    shape = tuple(header["shape"])
    payload = data[12 + header_len :]
    if len(payload) != 2 * int(np.prod(shape)):
        raise EmbeddingFormatError(f"Payload has {len(payload)} bytes; shape {shape} needs {2 * int(np.prod(shape))}.")
    return np.frombuffer(payload, dtype="<f2").reshape(shape), header


def save_atomically(name: str, data: bytes | IO[bytes], storage: Storage | None = None) -> str:
    """Write data (bytes, or a readable binary file copied from its current position in chunks)
    under exactly `name`, so that readers see the old file or the whole new one.

    Local storage: temp file in the same folder + os.replace. Remote storages (S3) have no path;
    there one PUT is already all-or-nothing, so delete + save is enough.
    """
    storage = storage or default_storage
    try:
        final_path = Path(storage.path(name))
    except NotImplementedError:
        if storage.exists(name):
            storage.delete(name)
        saved = storage.save(name, ContentFile(data) if isinstance(data, bytes) else File(data))
        if saved != name:
            raise RuntimeError(f"Storage saved {name!r} as {saved!r}.")
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


def write_embedding(embedding: np.ndarray, *, model_sha256: str, image_sha256: str) -> str:
    name = embedding_name(model_sha256=model_sha256, image_sha256=image_sha256)
    return save_atomically(name, encode_embedding(embedding, model_sha256=model_sha256, image_sha256=image_sha256))


def read_embedding(name: str) -> tuple[np.ndarray, dict]:
    with default_storage.open(name, "rb") as handle:
        return decode_embedding(handle.read())
