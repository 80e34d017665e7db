"""Fine-tuning with the image encoder trained too (FinetuneParams.train_encoder), default model, CPU."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from segmentation.sam.encoder import encode_images
from segmentation.training import encoder_mode
from segmentation.training import finetune as ft
from tests.segmentation.training.test_finetune import _cell_scene, _fresh_sam

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pixel_examples() -> list[ft.Example]:
    scenes = [_cell_scene(seed) for seed in range(8)]
    embeddings = encode_images(_fresh_sam(), [rgb for rgb, _ in scenes], torch.device("cpu"), batch_size=4)
    return [
        ft.Example(key=f"image-{i}", embedding=np.asarray(emb), mask=mask, image=rgb)
        for i, ((rgb, mask), emb) in enumerate(zip(scenes, embeddings))
    ]


def test_training_the_encoder_changes_its_weights_and_scores_on_fresh_embeddings(pixel_examples):
    train, heldout = pixel_examples[:6], pixel_examples[6:]
    base = _fresh_sam()
    params = ft.FinetuneParams(
        train_encoder=True,
        max_epochs=1,
        lr=3e-4,
        encoder_lr=1e-4,
        batch=3,
        rounds=2,
        keep_trained=True,
        report_clicks=2,
        eval_clicks=2,
    )
    sam = _fresh_sam()
    result = ft.finetune(sam, train, heldout, params)
    encoder_keys = [k for k in result.state_dict if k.startswith(encoder_mode.ENCODER_PREFIX)]
    assert encoder_keys, "the encoder's tensors belong to the trained state"
    base_state = base.state_dict()
    moved = [k for k in encoder_keys if not torch.equal(result.state_dict[k], base_state[k].float())]
    assert moved, "two steps moved some encoder weight"
    # BatchNorm statistics stay the base's (the encoder trains in eval mode).
    stats = [k for k in encoder_keys if k.endswith(("running_mean", "running_var"))]
    assert stats and all(torch.equal(result.state_dict[k], base_state[k].float()) for k in stats)
    # The tuned score comes from embeddings of the tuned encoder, not the stored ones.
    fresh = encoder_mode.reembedded(sam, heldout, torch.device("cpu"))
    assert not np.allclose(fresh[0].embedding, heldout[0].embedding, atol=1e-3)
    again = ft.evaluate(sam, fresh, 2, torch.device("cpu"))
    assert again["mIoU@1"] == pytest.approx(result.tuned["mIoU@1"], abs=1e-6)


def test_decoder_only_leaves_the_encoder_out_of_the_trained_state(pixel_examples):
    params = ft.FinetuneParams(
        max_epochs=1, lr=3e-4, batch=6, rounds=1, keep_trained=True, eval_clicks=1, report_clicks=1
    )
    result = ft.finetune(_fresh_sam(), pixel_examples[:6], pixel_examples[6:], params)
    assert not [k for k in result.state_dict if k.startswith(encoder_mode.ENCODER_PREFIX)]


def test_training_the_encoder_without_pixels_is_refused_before_any_step(pixel_examples):
    no_pixels = [dataclasses.replace(e, image=None) for e in pixel_examples]
    params = ft.FinetuneParams(train_encoder=True)
    with pytest.raises(encoder_mode.MissingPixelsError, match="needs the images"):
        ft.finetune(_fresh_sam(), pixel_examples[:6], no_pixels[6:], params)
    with pytest.raises(encoder_mode.MissingPixelsError):
        ft.finetune(_fresh_sam(), no_pixels[:6], pixel_examples[6:], params)
