"""Embedding file format (header + float16 payload) and atomic writes through the storage API."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from segmentation import storage

MODEL_SHA = "ab" * 32
IMAGE_SHA = "cd" * 32


def test_round_trip_keeps_shape_values_and_header():
    values = np.random.default_rng(0).standard_normal((256, 64, 64)).astype(np.float32)
    data = storage.encode_embedding(values, model_sha256=MODEL_SHA, image_sha256=IMAGE_SHA)
    decoded, header = storage.decode_embedding(data)
    assert decoded.dtype == np.float16 and decoded.shape == (256, 64, 64)
    np.testing.assert_array_equal(decoded, values.astype(np.float16))
    assert header == {"shape": [256, 64, 64], "dtype": "float16", "model_sha256": MODEL_SHA, "image_sha256": IMAGE_SHA}
    (header_len,) = struct.unpack("<I", data[8:12])
    assert (12 + header_len) % 16 == 0  # the browser can view the payload in place
    assert len(data) == 12 + header_len + 256 * 64 * 64 * 2


def test_payload_is_little_endian_float16():
    data = storage.encode_embedding(
        np.array([[[1.0, -2.0]]], dtype=np.float32), model_sha256=MODEL_SHA, image_sha256=IMAGE_SHA
    )
    assert data[-4:] == np.array([1.0, -2.0], dtype="<f2").tobytes() == b"\x00\x3c\x00\xc0"


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: b"XXXXXXXX" + d[8:], "bad magic"),
        (lambda d: d[:-2], "Payload has"),
    ],
)
def test_corrupt_files_are_rejected(mutate, message):
    data = storage.encode_embedding(np.zeros((2, 3, 4), np.float16), model_sha256=MODEL_SHA, image_sha256=IMAGE_SHA)
    with pytest.raises(storage.EmbeddingFormatError, match=message):
        storage.decode_embedding(mutate(data))


def test_write_embedding_names_file_by_key_and_reads_back():
    values = np.ones((4, 2, 2), np.float16)
    name = storage.write_embedding(values, model_sha256=MODEL_SHA, image_sha256=IMAGE_SHA)
    assert name == f"embeddings/{MODEL_SHA[:16]}/{IMAGE_SHA}.f16"
    decoded, header = storage.read_embedding(name)
    np.testing.assert_array_equal(decoded, values)
    assert header["model_sha256"] == MODEL_SHA
