"""POST /api/images/<id>/decode/: the server-side decoder path (the baseline of bench/click_latency.py)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from django.core.files.storage import default_storage
from rest_framework.test import APIClient

from segmentation.models import Embedding
from segmentation.sam.onnx_decoder import OnnxDecoder
from segmentation.services.embeddings import embedding_compute
from segmentation.storage import read_embedding

pytestmark = pytest.mark.django_db


@pytest.fixture
def setup(member_with_image):
    made = member_with_image(width=96, height=64)
    return {**made, "url": f"/api/images/{made['image'].pk}/decode/"}


def _png_mask(response) -> np.ndarray:
    assert response.status_code == 200, response.content[:200]
    assert response["Content-Type"] == "image/png"
    return cv2.imdecode(np.frombuffer(response.content, np.uint8), cv2.IMREAD_UNCHANGED)


@pytest.mark.parametrize("variant", ["fp32", "int8"])
def test_decode_returns_the_officially_chosen_mask_as_png(setup, variant):
    embedding = embedding_compute(Embedding.objects.get().pk)
    model, image = setup["model"], setup["image"]
    prompts = [
        {"points": [[30.5, 20.0]], "labels": [1]},
        {"points": [[30.5, 20.0], [70.0, 40.0]], "labels": [1, 0]},
        {"points": [], "labels": [], "box": [10, 5, 80, 60]},
    ]
    with default_storage.open(getattr(model, f"decoder_{variant}").name, "rb") as handle:
        reference = OnnxDecoder(handle.read(), img_size=model.encoder_input_size)
    values = read_embedding(embedding.file.name)[0].astype(np.float32)
    for prompt in prompts:
        mask = _png_mask(setup["member"].post(setup["url"], {**prompt, "variant": variant}, format="json"))
        assert mask.shape == (image.height, image.width) and set(np.unique(mask)) <= {0, 255}
        index, out = reference.predict_official(values, height=image.height, width=image.width, **prompt)
        assert np.array_equal(mask == 255, out.masks[index] > 0)


def test_decode_checks_membership_prompt_and_embedding(setup):
    click = {"points": [[5, 5]], "labels": [1]}
    assert setup["member"].post(setup["url"], click, format="json").status_code == 409  # embedding pending
    embedding_compute(Embedding.objects.get().pk)
    assert setup["outsider"].post(setup["url"], click, format="json").status_code == 404
    assert APIClient().post(setup["url"], click, format="json").status_code in (401, 403)
    for bad in (
        {"points": [], "labels": []},
        {"points": [[5, 5]], "labels": []},
        {"points": [[5]], "labels": [1]},
        {**click, "variant": "fp16"},
    ):
        assert setup["member"].post(setup["url"], bad, format="json").status_code == 400, bad
    assert setup["member"].post(setup["url"], click, format="json").status_code == 200
