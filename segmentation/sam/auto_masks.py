"""Segment everything on a stored embedding: SamAutomaticMaskGenerator without running the encoder.

The generator would run the encoder again through SamPredictor.set_image; the predictor here takes
the stored embedding instead (one crop layer only, so the crop is always the whole image).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def _predictor_with_embedding(sam: Any, vector: np.ndarray, height: int, width: int) -> Any:
    """A SamPredictor whose set_image installs the stored embedding (C, h, w) instead of encoding."""
    import torch
    from segment_anything import SamPredictor

    device = next(sam.parameters()).device
    features = torch.from_numpy(vector.astype("float32"))[None].to(device)

    class StoredEmbeddingPredictor(SamPredictor):
        def set_image(self, image, image_format: str = "RGB") -> None:
            if image.shape[:2] != (height, width):
                raise ValueError("Only whole-image crops can reuse the stored embedding.")
            self.reset_image()
            self.original_size = (height, width)
            self.input_size = tuple(
                self.transform.get_preprocess_shape(height, width, self.model.image_encoder.img_size)
            )
            self.features = features
            self.is_image_set = True

    return StoredEmbeddingPredictor(sam)


def generate_masks(sam: Any, vector: np.ndarray, *, height: int, width: int, params: dict[str, Any]) -> list[dict]:
    """SamAutomaticMaskGenerator's COCO-RLE records (non-empty) for an image of height x width whose
    embedding is vector; params are the generator's knobs."""
    from segment_anything import SamAutomaticMaskGenerator

    generator = SamAutomaticMaskGenerator(sam, output_mode="coco_rle", crop_n_layers=0, **params)
    generator.predictor = _predictor_with_embedding(sam, vector, height, width)
    # The generator only reads the array's shape here: pixels are not needed with a stored embedding.
    placeholder = np.zeros((height, width, 3), dtype=np.uint8)
    return [record for record in generator.generate(placeholder) if record["area"] > 0]
