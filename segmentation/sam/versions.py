"""Fine-tuned versions of a model: the merged checkpoint and the checks run before one is registered
(no Django here; segmentation.services.finetuning drives them).

A version's checkpoint is the base checkpoint's state dict, key for key, with the trained tensors
(prompt encoder + mask decoder) put in: it loads wherever the base loads, including segment-anything's
own `sam_model_registry[...](checkpoint=...)`. Trained floating-point tensors stay float32 even when
the base stores float16 (the shipped default does): rounding them would change the decoder that was
measured on the held-out split (by up to 0.04 in logits, enough to fail the export check).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import torch

from segmentation.sam.loader import read_state_dict
from segmentation.sam.onnx_export import LOW_RES_INPUT_NAMES


class VersionCheckError(RuntimeError):
    """A fine-tuned version failed a check before registration (nothing is registered)."""


def merged_checkpoint(base_checkpoint: str | Path, trained: dict[str, torch.Tensor]) -> tuple[bytes, list[str]]:
    """(bytes of the base checkpoint with the trained tensors put in, the keys whose tensor changed).

    Saved to memory, not to a path: torch.save names the zip archive after the file, so bytes saved
    from memory depend on the weights only (the same weights give the same sha256)."""
    state = read_state_dict(base_checkpoint)
    unknown = sorted(set(trained) - set(state))
    if unknown:
        raise VersionCheckError(f"Trained keys missing from {base_checkpoint}: {unknown[:5]}")
    merged, changed = dict(state), []
    for key, value in trained.items():
        if tuple(value.shape) != tuple(state[key].shape):
            raise VersionCheckError(f"{key}: trained shape {tuple(value.shape)}, base {tuple(state[key].shape)}")
        dtype = torch.float32 if state[key].is_floating_point() else state[key].dtype
        new = value.detach().to(device="cpu", dtype=dtype).contiguous()
        if not torch.equal(new, state[key].to(dtype)):
            changed.append(key)
        merged[key] = new
    buffer = io.BytesIO()
    torch.save(merged, buffer)
    return buffer.getvalue(), changed


def encoders_equal(a: Any, b: Any) -> bool:
    """Whether two models' image encoders hold the same weights (so they give the same embeddings)."""
    first, second = a.image_encoder.state_dict(), b.image_encoder.state_dict()
    return first.keys() == second.keys() and all(torch.equal(first[key].cpu(), second[key].cpu()) for key in first)


def _check_prompts(sam: Any, rng: np.random.Generator) -> list[dict[str, np.ndarray]]:
    """Refinement-graph feeds in model input space: one click alone, clicks with a previous mask, a
    box with a click and a previous mask (the previous mask as logits of a few units, like real ones)."""
    size = float(sam.image_encoder.img_size)
    side = int(sam.prompt_encoder.mask_input_size[0])
    cases = []
    for clicks, box, with_mask in ((1, False, False), (3, False, True), (1, True, True)):
        coords = rng.uniform(0, size - 1, (clicks, 2))
        labels = np.ones(clicks)
        labels[1:] = rng.integers(0, 2, clicks - 1)
        if box:
            corners = np.sort(rng.uniform(0, size - 1, (2, 2)), axis=0)
            coords, labels = np.concatenate([coords, corners]), np.concatenate([labels, [2, 3]])
        else:  # a click-only prompt ends with the padding point
            coords, labels = np.concatenate([coords, [[0.0, 0.0]]]), np.concatenate([labels, [-1]])
        mask = rng.standard_normal((1, 1, side, side)) * 4 if with_mask else np.zeros((1, 1, side, side))
        cases.append(
            {
                "point_coords": coords[None].astype(np.float32),
                "point_labels": labels[None].astype(np.float32),
                "mask_input": mask.astype(np.float32),
                "has_mask_input": np.array([1.0 if with_mask else 0.0], np.float32),
            }
        )
    return cases


@torch.no_grad()
def _torch_outputs(sam: Any, embedding: torch.Tensor, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """segment-anything's own prompt encoder + predict_masks: (iou (1, 4), low-res logits (1, 4, L, L))."""
    coords = torch.from_numpy(feeds["point_coords"])
    labels = torch.from_numpy(feeds["point_labels"])
    if bool((labels == 2).any()):  # the official path embeds a box apart from the points
        points, boxes = (coords[:, :-2], labels[:, :-2].int()), coords[:, -2:].reshape(1, 4)
    else:  # ... and appends the padding point itself
        points, boxes = (coords[:, :-1], labels[:, :-1].int()), None
    masks = torch.from_numpy(feeds["mask_input"]) if feeds["has_mask_input"][0] > 0 else None
    sparse, dense = sam.prompt_encoder(points=points, boxes=boxes, masks=masks)
    low_res, iou = sam.mask_decoder.predict_masks(embedding, sam.prompt_encoder.get_dense_pe(), sparse, dense)
    return [iou.numpy(), low_res.numpy()]


def refinement_graph_max_diff(sam: Any, onnx_model: bytes, embedding: np.ndarray, *, seed: int = 0) -> float:
    """Largest absolute difference between the exported refinement graph (low-res, fp32, all four
    outputs) and PyTorch (sam, on CPU) over a few prompts on one real (C, h, w) embedding, in logits
    and predicted IoU. A graph exported from other weights differs by whole units."""
    import onnxruntime as ort

    session = ort.InferenceSession(onnx_model, providers=["CPUExecutionProvider"])
    tensor = torch.as_tensor(np.asarray(embedding, np.float32))[None]
    worst = 0.0
    for feeds in _check_prompts(sam, np.random.default_rng(seed)):
        feeds = {"image_embeddings": tensor.numpy(), **feeds}
        got = session.run(["iou_predictions", "low_res_masks"], {k: feeds[k] for k in LOW_RES_INPUT_NAMES})
        for ours, reference in zip(got, _torch_outputs(sam, tensor, feeds)):
            worst = max(worst, float(np.abs(ours - reference).max()))
    return worst
