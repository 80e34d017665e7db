"""Run an exported decoder with onnxruntime, and map image pixels to model input space (no Django).

The browser does the same: coordinates are scaled by img_size / max(height, width) (the square
the encoder saw, before padding), a click-only prompt gets a padding point (0, 0) with label -1,
and a box becomes two points with labels 2 and 3.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np


def model_scale(height: int, width: int, img_size: int) -> float:
    """Factor from image pixels to model input pixels (the longest side becomes img_size)."""
    return img_size / max(height, width)


def image_to_model_coords(coords: np.ndarray, height: int, width: int, img_size: int) -> np.ndarray:
    """(N, 2) x, y in image pixels -> (N, 2) float32 in model input space."""
    return (np.asarray(coords, dtype=np.float32).reshape(-1, 2) * model_scale(height, width, img_size)).astype(
        np.float32
    )


def official_mask_index(iou_predictions: np.ndarray, num_prompt_points: int) -> int:
    """SAM's choice among the outputs of a multimask export (K = 4): with two or fewer prompt points
    (one click + padding, or a box alone) the best of the multimask tokens 1..3 by predicted IoU,
    otherwise the single-mask token 0. A single-mask export (K = 1) made that choice in the graph."""
    ious = np.asarray(iou_predictions).reshape(-1)
    if ious.size == 1:
        return 0
    if num_prompt_points <= 2:
        return 1 + int(np.argmax(ious[1:]))
    return 0


def _linear_taps(out_count: int, in_count: int, limit: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PyTorch's bilinear (align_corners=False) along one axis: output i reads inputs lower/upper with
    weight 1 - frac / frac. `limit` crops the input first (only its first `limit` samples exist)."""
    count = in_count if limit is None else limit
    source = np.maximum((np.arange(out_count) + 0.5) * (count / out_count) - 0.5, 0)
    lower = np.floor(source).astype(np.int64)
    upper = np.minimum(lower + 1, count - 1)
    return lower, upper, (source - lower).astype(np.float64)


def upscale_taps(out_count: int, prepadded: int, size: int, img_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(out_count, 4) low-res indices and weights that give, in one pass, exactly what the plain export
    computes along one axis: resize size -> img_size, keep the first `prepadded`, resize to out_count."""
    big_lower, big_upper, big_frac = _linear_taps(out_count, img_size, prepadded)
    indices, weights = [], []
    for big, weight in ((big_lower, 1 - big_frac), (big_upper, big_frac)):
        low_lower, low_upper, low_frac = (t[big] for t in _linear_taps(img_size, size))
        indices += [low_lower, low_upper]
        weights += [weight * (1 - low_frac), weight * low_frac]
    return np.stack(indices, axis=1), np.stack(weights, axis=1).astype(np.float32)


def upscale_low_res(low_res: np.ndarray, height: int, width: int, img_size: int) -> np.ndarray:
    """(K, m, m) low-res logits -> (K, height, width) logits, the same values as the plain export's
    in-graph upscaling (resize to img_size, crop the padding, resize to the image) computed as one
    separable 4-tap pass. Mirrors frontend/src/sam/upscale.ts, which does it for the drawn mask only."""
    low_res = np.asarray(low_res, dtype=np.float32)
    size = low_res.shape[-1]
    scale = img_size / max(height, width)
    rows_idx, rows_w = upscale_taps(height, int(np.floor(height * scale + 0.5)), size, img_size)
    cols_idx, cols_w = upscale_taps(width, int(np.floor(width * scale + 0.5)), size, img_size)
    rows = np.einsum("ht,khtw->khw", rows_w, low_res[:, rows_idx, :])
    return np.einsum("wt,khwt->khw", cols_w, rows[:, :, cols_idx])


@dataclass
class DecoderOutput:
    masks: np.ndarray  # (K, H, W) logits at the original image size; mask = logits > 0
    iou_predictions: np.ndarray  # (K,)
    low_res_masks: np.ndarray  # (K, 4h, 4w) logits, feed one back as mask_input for the next click


class OnnxDecoder:
    """One onnxruntime session on an exported decoder file."""

    def __init__(self, onnx_model: str | Path | bytes, *, img_size: int, threads: int | None = None) -> None:
        """onnx_model: a file path, or the file's bytes (as read from Django storage)."""
        import onnxruntime as ort

        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        source = onnx_model if isinstance(onnx_model, bytes) else str(onnx_model)
        self.session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
        self.img_size = img_size
        mask_shape = next(i.shape for i in self.session.get_inputs() if i.name == "mask_input")
        self.mask_input_size = (int(mask_shape[2]), int(mask_shape[3]))
        self.input_names = {i.name for i in self.session.get_inputs()}
        # Low-res exports have no full-size "masks" output: they are upscaled here (see upscale_low_res).
        self.upscales_in_graph = any(o.name == "masks" for o in self.session.get_outputs())

    def feeds(
        self,
        image_embedding: np.ndarray,
        *,
        height: int,
        width: int,
        points: Sequence[Sequence[float]] = (),
        labels: Sequence[int] = (),
        box: Sequence[float] | None = None,
        mask_input: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """Official-style inputs from prompts in image pixels (points x, y; labels 1 fg / 0 bg)."""
        coords = image_to_model_coords(np.asarray(points, dtype=np.float32), height, width, self.img_size)
        point_labels = np.asarray(labels, dtype=np.float32).reshape(-1)
        if box is not None:
            corners = image_to_model_coords(np.asarray(box, dtype=np.float32), height, width, self.img_size)
            coords = np.concatenate([coords, corners], axis=0)
            point_labels = np.concatenate([point_labels, np.array([2, 3], dtype=np.float32)])
        else:
            coords = np.concatenate([coords, np.zeros((1, 2), dtype=np.float32)], axis=0)
            point_labels = np.concatenate([point_labels, np.array([-1], dtype=np.float32)])
        embedding = np.asarray(image_embedding, dtype=np.float32)
        if embedding.ndim == 3:
            embedding = embedding[None]
        if mask_input is None:
            mask = np.zeros((1, 1, *self.mask_input_size), dtype=np.float32)
            has_mask = np.zeros(1, dtype=np.float32)
        else:
            mask = np.asarray(mask_input, dtype=np.float32).reshape(1, 1, *self.mask_input_size)
            has_mask = np.ones(1, dtype=np.float32)
        return {
            "image_embeddings": embedding,
            "point_coords": coords[None],
            "point_labels": point_labels[None],
            "mask_input": mask,
            "has_mask_input": has_mask,
            "orig_im_size": np.array([height, width], dtype=np.float32),
        }

    def run_feeds(self, feeds: dict[str, np.ndarray]) -> DecoderOutput:
        if self.upscales_in_graph:
            masks, ious, low_res = self.session.run(["masks", "iou_predictions", "low_res_masks"], feeds)
            return DecoderOutput(masks=masks[0], iou_predictions=ious[0], low_res_masks=low_res[0])
        ious, low_res = self.session.run(
            ["iou_predictions", "low_res_masks"], {k: v for k, v in feeds.items() if k in self.input_names}
        )
        height, width = (int(v) for v in feeds["orig_im_size"])
        masks = upscale_low_res(low_res[0], height, width, self.img_size)
        return DecoderOutput(masks=masks, iou_predictions=ious[0], low_res_masks=low_res[0])

    def predict_official(
        self, image_embedding: np.ndarray, *, height: int, width: int, **prompts
    ) -> tuple[int, DecoderOutput]:
        """(index of the officially chosen mask, all outputs) for a single- or multi-mask export."""
        out = self.predict(image_embedding, height=height, width=width, **prompts)
        num_points = len(prompts.get("points", ())) + (2 if prompts.get("box") is not None else 1)
        return official_mask_index(out.iou_predictions, num_points), out

    def predict_official_mask(self, image_embedding: np.ndarray, *, height: int, width: int, **prompts) -> np.ndarray:
        """(height, width) logits of the officially chosen mask; a low-res export upscales only that one."""
        feeds = self.feeds(image_embedding, height=height, width=width, **prompts)
        num_points = feeds["point_coords"].shape[1]
        if self.upscales_in_graph:
            out = self.run_feeds(feeds)
            return out.masks[official_mask_index(out.iou_predictions, num_points)]
        ious, low_res = self.session.run(
            ["iou_predictions", "low_res_masks"], {k: v for k, v in feeds.items() if k in self.input_names}
        )
        index = official_mask_index(ious[0], num_points)
        return upscale_low_res(low_res[0, index : index + 1], height, width, self.img_size)[0]

    def predict(self, image_embedding: np.ndarray, *, height: int, width: int, **prompts) -> DecoderOutput:
        return self.run_feeds(self.feeds(image_embedding, height=height, width=width, **prompts))
