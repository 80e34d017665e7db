"""ClickPredictor over the exported ONNX decoder: the path the browser runs (no Django).

Embeddings come from segmentation.sam.encoder (float16, as stored for the browser); each click
round feeds all clicks so far plus the previous low-res logits, exactly like the annotation UI.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from segmentation.evaluation.clicks import Click, EvalObject


class OnnxClickPredictor:
    def __init__(
        self,
        decoder: Any,  # segmentation.sam.onnx_decoder.OnnxDecoder
        objects: Sequence[EvalObject],
        images: dict[str, np.ndarray],
        encode: Callable[[np.ndarray], np.ndarray],  # RGB image -> (C, h, w) embedding
    ) -> None:
        self.decoder, self.objects, self.images, self.encode = decoder, objects, images, encode
        self.embeddings: dict[str, np.ndarray] = {}
        self.prev_low_res: dict[int, np.ndarray] = {}

    def _embedding(self, key: str) -> np.ndarray:
        if key not in self.embeddings:
            self.embeddings[key] = self.encode(self.images[key])
        return self.embeddings[key]

    def predict(self, requests: Sequence[tuple[int, Sequence[Click]]]) -> list[np.ndarray]:
        masks = []
        for index, clicks in requests:
            key = self.objects[index].image_key
            h, w = self.images[key].shape[:2]
            best, out = self.decoder.predict_official(
                self._embedding(key),
                height=h,
                width=w,
                points=[[c.x, c.y] for c in clicks],
                labels=[1 if c.positive else 0 for c in clicks],
                mask_input=self.prev_low_res.get(index),
            )
            self.prev_low_res[index] = out.low_res_masks[best]
            masks.append(out.masks[best] > 0)
        return masks
