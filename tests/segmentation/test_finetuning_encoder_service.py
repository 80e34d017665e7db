"""finetune_version with the image encoder trained (--train-encoder): the version has an encoder of
its own, its file holds the trained encoder, and its decoder graph is checked on an embedding of that
encoder."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest
import torch
from django.core.files.storage import default_storage

from segmentation.sam.encoder import encode_images
from segmentation.sam.loader import load_sam, read_state_dict
from segmentation.sam.versions import refinement_graph_max_diff
from segmentation.services.finetuning import finetune_version, version_checkpoint_path
from segmentation.services.models import committed_default_checkpoint
from segmentation.training.examples import Example
from tests.segmentation.test_finetuning_service import TINY, _cell_scene

pytestmark = [pytest.mark.slow, pytest.mark.django_db]


@pytest.fixture
def pixel_objects() -> tuple[list[Example], list[Example]]:
    scenes = [_cell_scene(seed) for seed in range(6)]
    sam = load_sam("default", committed_default_checkpoint())
    embeddings = encode_images(sam, [rgb for rgb, _ in scenes], torch.device("cpu"), batch_size=4)
    examples = [
        Example(key=f"image-{i}", embedding=np.asarray(emb, np.float32), mask=mask, image=rgb)
        for i, ((rgb, mask), emb) in enumerate(zip(scenes, embeddings))
    ]
    return examples[:4], examples[4:]


def test_a_version_trained_with_its_encoder_has_an_encoder_of_its_own(default_model, pixel_objects, settings, tmp_path):
    settings.SEGMENTATION_CHECKPOINT_DIR = tmp_path
    train, heldout = pixel_objects
    params = dataclasses.replace(TINY, train_encoder=True, encoder_lr=1e-4, eval_clicks=1, report_clicks=1)
    _, version = finetune_version(base=default_model, train=train, heldout=heldout, params=params, name="enc v1")
    assert version.parent == default_model
    assert version.encoder_sha256 == version.checkpoint_sha256 != default_model.encoder_sha256
    path = version_checkpoint_path(version.checkpoint_sha256)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == version.checkpoint_sha256
    base_state, state = read_state_dict(default_model.checkpoint_path), read_state_dict(path)
    assert list(state) == list(base_state)
    assert any(
        not torch.equal(state[k].float(), base_state[k].float()) for k in state if k.startswith("image_encoder.")
    )
    assert version.training["params"]["train_encoder"] is True
    # The exported decoder computes what PyTorch computes, on an embedding of the version's encoder.
    tuned = load_sam("default", path)
    fresh = encode_images(tuned, [heldout[0].image], torch.device("cpu"))[0]
    assert not np.allclose(fresh, heldout[0].embedding, atol=1e-3)
    with default_storage.open(version.decoder_fp32.name, "rb") as handle:
        graph = handle.read()
    assert refinement_graph_max_diff(tuned, graph, fresh, seed=3) < 1e-3
