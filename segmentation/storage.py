"""Embedding file format, written atomically through Django's storage API (common.storage).

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
import struct

import numpy as np
from django.core.files.storage import default_storage

from common.storage import save_atomically

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
        {
            "shape": list(map(int, embedding.shape)),
            "dtype": "float16",
            "model_sha256": model_sha256,
            "image_sha256": image_sha256,
        },
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


def write_embedding(embedding: np.ndarray, *, model_sha256: str, image_sha256: str) -> str:
    name = embedding_name(model_sha256=model_sha256, image_sha256=image_sha256)
    return save_atomically(name, encode_embedding(embedding, model_sha256=model_sha256, image_sha256=image_sha256))


def read_embedding(name: str) -> tuple[np.ndarray, dict]:
    with default_storage.open(name, "rb") as handle:
        return decode_embedding(handle.read())
