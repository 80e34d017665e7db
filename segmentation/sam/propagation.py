"""One slice-propagation step of SAM on a stored embedding (torch; no Django): prompt encoder + mask
decoder with a box, interior points and the previous slice's logits as mask input, single mask out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from segmentation.propagation import StepOutput


def low_res_side(sam: Any) -> int:
    """Side of SAM's low-res mask (4x the embedding grid): the mask input's size."""
    return int(sam.prompt_encoder.image_embedding_size[0]) * 4


def propagation_step(
    sam: Any,
    vector: np.ndarray,
    *,
    height: int,
    width: int,
    box: Sequence[float] | None,
    points: Sequence[Sequence[float]],
    mask_input: np.ndarray | None,
) -> StepOutput:
    """vector: the slice's (C, h, w) embedding; box x0, y0, x1, y1 and points x, y (positive) in
    image pixels; mask_input (1, 1, S, S) logits or None. The mask is SAM's single-mask output."""
    import torch
    from segment_anything.utils.amg import calculate_stability_score
    from segment_anything.utils.transforms import ResizeLongestSide

    device = next(sam.parameters()).device
    img_size = sam.image_encoder.img_size
    transform = ResizeLongestSide(img_size)
    with torch.no_grad():
        features = torch.from_numpy(np.asarray(vector, dtype=np.float32))[None].to(device)
        point_prompt = None
        if len(points):
            coords = transform.apply_coords(np.asarray(points, dtype=np.float32), (height, width))
            point_prompt = (
                torch.as_tensor(coords, dtype=torch.float32, device=device)[None],
                torch.ones((1, len(points)), dtype=torch.int64, device=device),
            )
        boxes = None
        if box is not None:
            scaled = transform.apply_boxes(np.asarray([box], dtype=np.float32), (height, width))
            boxes = torch.as_tensor(scaled, dtype=torch.float32, device=device)
        masks_in = None if mask_input is None else torch.as_tensor(mask_input, dtype=torch.float32, device=device)
        sparse, dense = sam.prompt_encoder(points=point_prompt, boxes=boxes, masks=masks_in)
        low_res, iou = sam.mask_decoder(
            image_embeddings=features,
            image_pe=sam.prompt_encoder.get_dense_pe(),
            sparse_prompt_embeddings=sparse,
            dense_prompt_embeddings=dense,
            multimask_output=False,
        )
        input_size = transform.get_preprocess_shape(height, width, img_size)
        logits = sam.postprocess_masks(low_res, input_size, (height, width))
        stability = calculate_stability_score(logits, sam.mask_threshold, 1.0)
        mask = (logits > sam.mask_threshold)[0, 0].cpu().numpy()
    return StepOutput(
        mask=mask,
        predicted_iou=float(iou[0, 0]),
        stability=float(stability[0, 0]),
        low_res=low_res[:, :1].cpu().numpy().astype(np.float32),
    )
