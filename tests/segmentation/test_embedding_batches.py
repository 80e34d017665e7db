"""Embeddings encoded in batches: one task claims other pending embeddings of the same encoder and
encodes them together (GPU workers by default; a CPU worker when SAM_CPU_BATCH_SIZE > 1)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from django.test import override_settings

from annotator.services.embeddings import embeddings_request
from segmentation.models import Embedding, EmbeddingState
from segmentation.sam.encoder import encode_images
from segmentation.services import embeddings as engine
from segmentation.services.model_cache import get_sam
from segmentation.storage import read_embedding
from tests.factories import make_image, make_project

pytestmark = pytest.mark.django_db


def _pending_embeddings(count: int) -> list[Embedding]:
    project = make_project()
    embeddings_request(images=[make_image(project) for _ in range(count)])
    return list(Embedding.objects.order_by("id"))


def test_batch_size_follows_the_device():
    with override_settings(SEGMENTATION_GPU_BATCH_SIZE=4, SEGMENTATION_CPU_BATCH_SIZE=1):
        assert engine.batch_size_for(torch.device("cuda")) == 4
        assert engine.batch_size_for(torch.device("cpu")) == 1
    with override_settings(SEGMENTATION_CPU_BATCH_SIZE=0):
        assert engine.batch_size_for(torch.device("cpu")) == 1


def _encode_one_batch(default_model) -> tuple[list[Embedding], list[Embedding]]:
    first, *rest = _pending_embeddings(4)
    engine.embedding_compute(first.pk)
    after = list(Embedding.objects.order_by("id"))
    return after, rest


@override_settings(SEGMENTATION_CPU_BATCH_SIZE=3, SEGMENTATION_DEVICE="cpu")
def test_one_task_encodes_its_partners_in_one_batch_and_their_tasks_then_return(
    default_model, django_capture_on_commit_callbacks
):
    after, _ = _encode_one_batch(default_model)
    # The task's own embedding and the next two pending ones (batch of 3); the fourth stays pending.
    assert [e.status for e in after] == [EmbeddingState.READY] * 3 + [EmbeddingState.PENDING]
    assert [e.attempts for e in after] == [1, 0, 0, 0]  # partners were not run by tasks of their own
    # Batched results equal one-by-one results: each file is its own image's embedding.
    sam = get_sam(default_model)
    for member in after[:3]:
        batched, header = read_embedding(member.file.name)
        assert header["image_sha256"] == member.image_sha256
        single = encode_images(sam, [engine.source_pixels(member)], torch.device("cpu"), batch_size=1)[0]
        np.testing.assert_allclose(batched.astype(np.float32), single.astype(np.float32), atol=2e-2)
    # A partner's own task, delivered later, finds it ready and does nothing.
    partner = after[1]
    engine.embedding_compute(partner.pk)
    assert Embedding.objects.get(pk=partner.pk).attempts == 0


@pytest.mark.cuda
@override_settings(SEGMENTATION_GPU_BATCH_SIZE=3, SEGMENTATION_DEVICE="cuda")
def test_gpu_worker_batches_pending_embeddings(default_model, django_capture_on_commit_callbacks):
    after, _ = _encode_one_batch(default_model)
    assert [e.status for e in after] == [EmbeddingState.READY] * 3 + [EmbeddingState.PENDING]
