"""Click-simulator predictions from stored embeddings with the browser graphs' semantics (no Django).

Scores a decoder on held-out objects before and after fine-tuning with the same simulator and
metrics as `manage.py evaluate_clicks` (segmentation.evaluation.clicks).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from segmentation.evaluation.clicks import Click, EvalObject, simulate, summarize
from segmentation.training import prompts


class ModelGeometry:
    """Image pixels <-> the encoder's input square <-> the decoder's low-res grid."""

    def __init__(self, sam: Any) -> None:
        self.img_size = int(sam.image_encoder.img_size)
        self.low = int(sam.prompt_encoder.image_embedding_size[0]) * 4
        self.low_per_input = self.low / self.img_size

    def scale(self, height: int, width: int) -> float:
        return self.img_size / max(height, width)


class EmbeddingClickPredictor:
    """The click simulator's predictor over stored embeddings, with the browser graphs' semantics:
    clicks then one padding point; best-IoU multimask output for one click, output 0 afterwards;
    previous low-res logits fed back; logits upscaled to the input square, cropped, resized."""

    def __init__(self, sam: Any, objects: Sequence[EvalObject], embeddings: dict[str, np.ndarray], device) -> None:
        self.sam, self.objects, self.device = sam, objects, device
        self.geometry = ModelGeometry(sam)
        self.embeddings = {k: torch.as_tensor(np.asarray(v, np.float32), device=device) for k, v in embeddings.items()}
        self.previous: dict[int, torch.Tensor] = {}

    @torch.no_grad()
    def predict(self, requests: Sequence[tuple[int, Sequence[Click]]]) -> list[np.ndarray]:
        results: list[np.ndarray] = []
        for start in range(0, len(requests), 16):  # bounded memory: 16 embeddings at a time
            results += self._predict_chunk(requests[start : start + 16])
        return results

    def _predict_chunk(self, requests: Sequence[tuple[int, Sequence[Click]]]) -> list[np.ndarray]:
        g, n = self.geometry, len(requests)
        width = max(len(clicks) for _, clicks in requests) + 1
        coords = torch.zeros(n, width, 2, device=self.device)
        labels = -torch.ones(n, width, dtype=torch.long, device=self.device)
        prev = torch.zeros(n, 1, g.low, g.low, device=self.device)
        has_mask = torch.zeros(n, device=self.device)
        for row, (index, clicks) in enumerate(requests):
            height, w = self.objects[index].foreground.shape
            s = g.scale(height, w)
            for j, click in enumerate(reversed(clicks)):  # newest first, as in training
                coords[row, j] = torch.tensor([click.x * s, click.y * s])  # ResizeLongestSide.apply_coords
                labels[row, j] = 1 if click.positive else 0
            if index in self.previous:
                prev[row], has_mask[row] = self.previous[index], 1.0
        embeddings = torch.stack([self.embeddings[self.objects[i].image_key] for i, _ in requests])
        sparse = prompts.embed_points(self.sam.prompt_encoder, coords, labels, g.img_size)
        dense = prompts.embed_mask(self.sam.prompt_encoder, prev, has_mask)
        masks, iou_pred = prompts.decode(
            self.sam.mask_decoder, embeddings, self.sam.prompt_encoder.get_dense_pe(), sparse, dense
        )
        out = []
        for row, (index, clicks) in enumerate(requests):
            k = int(iou_pred[row, 1:].argmax()) + 1 if len(clicks) == 1 else 0
            low = masks[row, k]
            self.previous[index] = low[None].clone()
            out.append(self._full_size(low, *self.objects[index].foreground.shape))
        return out

    def _full_size(self, low: torch.Tensor, height: int, width: int) -> np.ndarray:
        g = self.geometry
        s = g.scale(height, width)
        up = F.interpolate(low[None, None], size=(g.img_size, g.img_size), mode="bilinear", align_corners=False)
        up = up[..., : round(height * s), : round(width * s)]
        full = F.interpolate(up, size=(height, width), mode="bilinear", align_corners=False)
        return (full[0, 0] > 0).cpu().numpy()


def evaluate(sam: Any, examples: Sequence[Any], clicks: int, device: torch.device) -> dict[str, float]:
    """Held-out click metrics (mIoU@k, NoC@85/90, fail@85/90) with the standard simulator."""
    objects = [EvalObject(e.key, e.mask.astype(bool), np.zeros_like(e.mask, dtype=bool)) for e in examples]
    embeddings = {e.key: e.embedding for e in examples}
    sam.eval()
    ious = simulate(EmbeddingClickPredictor(sam, objects, embeddings, device), objects, max_clicks=clicks)
    return summarize(ious)
