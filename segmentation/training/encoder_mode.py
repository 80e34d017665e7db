"""Fine-tuning with the image encoder trained too (`FinetuneParams.train_encoder`, `--train-encoder`).

Decoder-only fine-tuning reads stored embeddings; a frozen encoder is what limits it on a domain far
from the base's (refinement clicks stay flat). Training the encoder needs pixels: every step encodes
the images of its objects (forward and backward through the encoder), so a step costs the encoder's
backward pass, minutes of GPU or hours of CPU for vit_h/l/b and seconds for the small default model.

The encoder is kept in eval mode while its weights train: BatchNorm statistics (the default model
has BatchNorm) stay the base's, since a batch of a few images would give noisy statistics, and
LayerNorm models (SAM ViTs) are unaffected. The tuned model gives other embeddings, so the version
has an encoder of its own and the project's images are embedded again under it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from segmentation.sam.encoder import encode_images, preprocess_image
from segmentation.training.examples import Example

ENCODER_PREFIX = "image_encoder."


class MissingPixelsError(ValueError):
    """Training the encoder was asked for, but an example came without its image."""


def require_images(examples: Sequence[Example]) -> None:
    missing = sum(1 for e in examples if e.image is None)
    if missing:
        raise MissingPixelsError(f"Training the image encoder needs the images; {missing} object(s) came without.")


class PixelBank:
    """Each image once, preprocessed to the encoder's padded input square, kept as uint8-range float16
    on the device (3 x S x S x 2 bytes: 1.5 MB at S=512, 6 MB at S=1024) and shared by its objects."""

    def __init__(self, sam: Any, examples: Sequence[Example], device: torch.device) -> None:
        require_images(examples)
        self.sam, self.device = sam, device
        self.index: dict[str, int] = {}
        tensors: list[torch.Tensor] = []
        with torch.no_grad():
            for example in examples:
                if example.key not in self.index:
                    self.index[example.key] = len(tensors)
                    tensors.append(preprocess_image(sam, np.ascontiguousarray(example.image), device).half())
        self.pixels = torch.stack(tensors) if tensors else torch.empty(0)

    def embed(self, keys: Sequence[str]) -> torch.Tensor:
        """Embeddings (N, C, h, w) for the objects' images, with gradients into the encoder; each
        distinct image of the batch goes through the encoder once."""
        distinct = list(dict.fromkeys(keys))
        rows = torch.tensor([self.index[k] for k in distinct], device=self.device)
        features = self.sam.image_encoder(self.pixels[rows].float())
        where = {key: i for i, key in enumerate(distinct)}
        return features[torch.tensor([where[k] for k in keys], device=self.device)]


def encoder_parameters(sam: Any) -> list[torch.nn.Parameter]:
    return [p for name, p in sam.named_parameters() if name.startswith(ENCODER_PREFIX)]


def reembedded(sam: Any, examples: Sequence[Example], device: torch.device) -> list[Example]:
    """The examples with embeddings from sam's current encoder (held-out scoring of a trained encoder).
    Images shared by several objects are encoded once."""
    require_images(examples)
    keys = list(dict.fromkeys(e.key for e in examples))
    first = {e.key: e for e in reversed(examples)}
    was_training = sam.training
    sam.eval()
    embeddings = encode_images(sam, [first[k].image for k in keys], device, batch_size=4)
    sam.train(was_training)
    by_key = {key: np.asarray(embedding, np.float32) for key, embedding in zip(keys, embeddings)}
    return [replace(e, embedding=by_key[e.key]) for e in examples]
