"""Decoder fine-tuning on stored embeddings (segmentation.training.finetune), with the shipped default model.

The domain is one the default model never saw in training: striped ellipses ("cells") whose mean
brightness matches the noisy background, so the edge is a texture edge, not a brightness edge.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch

from segmentation.sam.encoder import encode_images
from segmentation.sam.loader import load_sam
from segmentation.services.models import committed_default_checkpoint
from segmentation.training import examples as ftx
from segmentation.training import finetune as ft

pytestmark = pytest.mark.slow


def _cell_scene(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    height, width = 240, 320
    background = rng.normal(90, 25, (height, width)).clip(0, 255).astype(np.uint8)
    mask = np.zeros((height, width), np.uint8)
    center = (int(rng.integers(80, 240)), int(rng.integers(60, 180)))
    axes = (int(rng.integers(25, 60)), int(rng.integers(20, 50)))
    cv2.ellipse(mask, center, axes, float(rng.uniform(0, 180)), 0, 360, 1, -1)
    stripes = ((np.indices((height, width)).sum(0) // 3) % 2 * 80 + 50).astype(np.uint8)
    grey = np.where(mask > 0, stripes, background)
    return np.stack([grey] * 3, -1), mask.astype(bool)


def _fresh_sam():
    return load_sam("default", committed_default_checkpoint())


@pytest.fixture(scope="module")
def examples() -> list[ft.Example]:
    scenes = [_cell_scene(seed) for seed in range(20)]
    embeddings = encode_images(_fresh_sam(), [rgb for rgb, _ in scenes], torch.device("cpu"), batch_size=4)
    return [
        ft.Example(key=f"image-{i}", embedding=np.asarray(emb), mask=mask)
        for i, ((_, mask), emb) in enumerate(zip(scenes, embeddings))
    ]


def _split(examples):
    return examples[:14], examples[14:]


def test_the_split_is_stable_and_near_the_share():
    keys = [str(i) for i in range(2000)]
    first = [ftx.is_heldout(key, 0.2) for key in keys]
    assert first == [ftx.is_heldout(key, 0.2) for key in reversed(keys)][::-1]  # order and company don't matter
    assert 0.17 < np.mean(first) < 0.23
    assert not any(ftx.is_heldout(key, 0.0) for key in keys)


def test_stored_prompts_become_tokens_in_input_pixels_box_first():
    tokens = ft.prompt_tokens({"points": [[10, 20, 1], [30, 40, 0]], "box": [1, 2, 3, 4]}, 2.0)
    assert tokens == [(2.0, 4.0, 2), (6.0, 8.0, 3), (20.0, 40.0, 1), (60.0, 80.0, 0)]
    assert ft.prompt_tokens(None, 2.0) == []


def test_fine_tuning_raises_the_heldout_score_on_a_new_domain(examples):
    train, heldout = _split(examples)
    progress = []
    params = ft.FinetuneParams(minutes=5, max_epochs=2, lr=3e-4, batch=7, rounds=3, patience=2)
    result = ft.finetune(_fresh_sam(), train, heldout, params, on_progress=progress.append)
    assert result.tuned["mIoU@1"] >= result.base["mIoU@1"] + 0.05, (result.base, result.tuned)
    # The record compares with the full 20-click simulator, not the 5-click early-stopping score.
    assert result.base["max_clicks"] == result.tuned["max_clicks"] == 20 and "NoC@90" in result.tuned
    assert ftx.score(result.tuned, 5) > ftx.score(result.base, 5)
    assert [row["epoch"] for row in result.history] == [1.0, 2.0]
    assert any("step" in row and row["loss"] > 0 for row in progress)
    assert set(result.state_dict) and all(name.startswith(ft.TRAINED_PREFIXES) for name in result.state_dict)


def test_the_same_seed_gives_the_same_weights_and_another_seed_does_not(examples):
    train, heldout = _split(examples)

    def run(seed: int) -> dict[str, torch.Tensor]:
        # keep_trained: the epoch is kept whatever its score, so the weights show the training itself.
        params = ft.FinetuneParams(max_epochs=1, lr=3e-4, batch=7, rounds=2, seed=seed, keep_trained=True)
        return ft.finetune(_fresh_sam(), train[:7], heldout[:2], params).state_dict  # one step each

    first, again, other = run(1), run(1), run(2)
    changed = [name for name in first if not torch.equal(first[name], again[name])]
    assert changed == []
    assert any(not torch.equal(first[name], other[name]) for name in first)


def test_a_cancelled_run_raises(examples):
    train, heldout = _split(examples)
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 1

    with pytest.raises(ft.FinetuneCancelled):
        ft.finetune(_fresh_sam(), train, heldout[:2], ft.FinetuneParams(batch=4), should_stop=stop)
    assert len(calls) == 2
