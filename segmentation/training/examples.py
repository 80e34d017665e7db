"""What decoder fine-tuning takes and returns, without torch: the annotator builds `Example`s from
its approved labels and reads `FinetuneResult`s, in processes that never load torch.
(segmentation.training.finetune runs the training itself.)"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# The parameters fine-tuning trains (and a tuned version's checkpoint replaces); the image encoder
# stays frozen, so the base model's stored embeddings remain valid.
TRAINED_PREFIXES = ("prompt_encoder.", "mask_decoder.")


class FinetuneCancelled(Exception):
    """should_stop() said stop: nothing of the run is to be kept."""


@dataclass(frozen=True)
class Example:
    """One labelled object of one image."""

    key: str  # the image's identity: the held-out split and embedding sharing go by it
    embedding: np.ndarray  # (C, h, w) the stored embedding of the image under the base model
    mask: np.ndarray  # (H, W) bool, the true mask at full image size
    # The labeler's prompts in image pixels, in the order given: {"points": [[x, y, 1|0], ...],
    # "box": [x0, y0, x1, y1]} (either may be missing), or None for objects drawn by hand.
    prompts: dict[str, Any] | None = None
    weight: float = 1.0
    # (H, W, 3) uint8 RGB, the pixels the embedding was computed from (any size with the mask's aspect
    # ratio); needed only when the image encoder is trained too (FinetuneParams.train_encoder).
    image: np.ndarray | None = None


@dataclass(frozen=True)
class FinetuneParams:
    minutes: float = 10.0  # training wall-clock budget; evaluations count against it too
    max_epochs: int = 30
    lr: float = 1e-4
    weight_decay: float = 0.01
    batch: int = 8  # objects per step
    rounds: int = 4  # prompt rounds per object per step: 1 first prompt + corrections
    seed: int = 0
    patience: int = 3  # epochs without a held-out gain before stopping
    eval_clicks: int = 5  # clicks per held-out object in the per-epoch score (mean mIoU@1..eval_clicks)
    # Clicks in the final base-vs-tuned report (NoC@85/90, never-reached shares): evaluate_clicks' 20.
    report_clicks: int = 20
    box_share: float = 0.4  # first prompts simulated as a box rather than a click
    min_gain: float = 0.0  # a held-out score must beat the best by more than this to count
    # True: the best trained epoch is kept even when the untrained base scores higher (a manager asked
    # for a new version whatever its score: promote "always"); False: the base competes too.
    keep_trained: bool = False
    # Train the image encoder too (pixels needed; the version gets an encoder of its own, so its images
    # are embedded again), with its own learning rate: the encoder starts from features that already
    # work, and a decoder-sized step would wreck them.
    train_encoder: bool = False
    encoder_lr: float = 1e-5


@dataclass
class FinetuneResult:
    state_dict: dict[str, Any]  # torch tensors of the trained keys only (TRAINED_PREFIXES), fp32, CPU
    base: dict[str, float]  # held-out click metrics of the model before training
    tuned: dict[str, float]  # ... and of the kept state
    history: list[dict[str, float]] = field(default_factory=list)  # one row per epoch
    epochs: int = 0
    stopped: str = ""  # "epochs", "time" or "patience"
    seconds: float = 0.0  # the whole call: training, its per-epoch scoring and the final report
    training_seconds: float = 0.0  # until training stopped (what the time budget bounds), without the report


def is_heldout(key: str, share: float) -> bool:
    """Stable split: the same image is always on the same side, whatever else the project holds."""
    digest = hashlib.sha256(f"holdout:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < share


def score(metrics: dict[str, float], clicks: int) -> float:
    """The number the run optimises and promotion compares: mean mIoU over clicks 1..clicks."""
    values = [metrics[f"mIoU@{k}"] for k in range(1, clicks + 1) if f"mIoU@{k}" in metrics]
    return float(np.mean(values)) if values else 0.0


__all__ = [
    "TRAINED_PREFIXES",
    "Example",
    "FinetuneCancelled",
    "FinetuneParams",
    "FinetuneResult",
    "is_heldout",
    "score",
]
