"""Export SAM's prompt encoder + mask decoder to ONNX, official-style inputs (no Django here).

Inputs (as in Meta's export): image_embeddings (1, C, h, w) float32; point_coords (1, N, 2) float32
in model input space, N dynamic, box corners as points with labels 2 (top-left) and 3 (bottom-right),
a padding point (0, 0) with label -1 when there is no box; point_labels (1, N) float32;
mask_input (1, 1, 4h, 4w) float32 (previous low-res logits); has_mask_input (1,) float32;
orig_im_size (2,) float32 [height, width].
Outputs: masks (1, K, H, W) logits at the original size, iou_predictions (1, K),
low_res_masks (1, K, 4h, 4w) logits. K = 1 with return_single_mask (the official choice rule:
multimask best-IoU for a single click, the single-mask token otherwise), else 4 (token 0 is the
single-mask output, 1..3 the three multimask candidates).

Why not segment_anything.utils.onnx.SamOnnxModel: the PyPI 1.0 release crops with
int(prepadded_size), which the tracer bakes in as a constant from the dummy input, so every image
of another aspect ratio gets wrong masks. Here the crop is computed with tensor ops.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

OPSET = 17
INPUT_NAMES = ["image_embeddings", "point_coords", "point_labels", "mask_input", "has_mask_input", "orig_im_size"]
OUTPUT_NAMES = ["masks", "iou_predictions", "low_res_masks"]
# The low-res export (upscale_in_graph=False): no orig_im_size input and no full-size masks output;
# the client upscales and thresholds the one low-res mask it draws (onnx_decoder.upscale_low_res and
# frontend/src/sam/upscale.ts), which is cheaper than 4 full-size masks in the graph per click.
LOW_RES_INPUT_NAMES = INPUT_NAMES[:-1]
LOW_RES_OUTPUT_NAMES = OUTPUT_NAMES[1:]


def _decoder_module(sam: Any, return_single_mask: bool, upscale_in_graph: bool = True) -> Any:
    import torch
    from torch import nn
    from torch.nn import functional as F

    class SamPromptDecoder(nn.Module):
        """Prompt encoder + mask decoder + mask upscaling, traceable with dynamic sizes."""

        def __init__(self) -> None:
            super().__init__()
            self.prompt_encoder = sam.prompt_encoder
            self.mask_decoder = sam.mask_decoder
            self.img_size = int(sam.image_encoder.img_size)
            self.return_single_mask = return_single_mask
            self.upscale_in_graph = upscale_in_graph

        def embed_points(self, coords: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
            # Same arithmetic as PromptEncoder._embed_points/_embed_boxes, without Python branches:
            # +0.5 moves to pixel centres, then normalise by the square input size.
            pe = self.prompt_encoder.pe_layer._pe_encoding((coords + 0.5) / self.img_size)
            labels = labels.unsqueeze(-1).expand_as(pe)
            pe = pe * (labels != -1)
            pe = pe + self.prompt_encoder.not_a_point_embed.weight * (labels == -1)
            for index in range(self.prompt_encoder.num_point_embeddings):
                pe = pe + self.prompt_encoder.point_embeddings[index].weight * (labels == index)
            return pe

        def embed_mask(self, mask_input: torch.Tensor, has_mask_input: torch.Tensor) -> torch.Tensor:
            with_mask = has_mask_input * self.prompt_encoder.mask_downscaling(mask_input)
            without_mask = (1 - has_mask_input) * self.prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1)
            return with_mask + without_mask

        def upscale(self, low_res: torch.Tensor, orig_im_size: torch.Tensor) -> torch.Tensor:
            masks = F.interpolate(low_res, size=(self.img_size, self.img_size), mode="bilinear", align_corners=False)
            # The resized image's size inside the padded square, as tensors so it stays dynamic.
            scale = self.img_size / torch.max(orig_im_size)
            prepadded = torch.floor(orig_im_size * scale + 0.5).to(torch.int64)
            masks = masks[..., : prepadded[0], : prepadded[1]]
            size = orig_im_size.to(torch.int64)
            return F.interpolate(masks, size=(size[0], size[1]), mode="bilinear", align_corners=False)

        def select_single(self, masks: torch.Tensor, scores: torch.Tensor, num_points: int) -> tuple[torch.Tensor, torch.Tensor]:
            # Official rule without control flow: with <= 2 points (one click + padding, or a box
            # alone) take the best multimask output; otherwise the single-mask token 0.
            reweight = torch.zeros_like(scores)
            reweight[:, 0] = 1000.0
            best = torch.argmax(scores + (num_points - 2.5) * reweight, dim=1)
            rows = torch.arange(masks.shape[0])
            return masks[rows, best].unsqueeze(1), scores[rows, best].unsqueeze(1)

        def forward(self, image_embeddings, point_coords, point_labels, mask_input, has_mask_input, orig_im_size=None):
            sparse = self.embed_points(point_coords, point_labels)
            dense = self.embed_mask(mask_input, has_mask_input)
            low_res, scores = self.mask_decoder.predict_masks(
                image_embeddings=image_embeddings,
                image_pe=self.prompt_encoder.get_dense_pe(),
                sparse_prompt_embeddings=sparse,
                dense_prompt_embeddings=dense,
            )
            if self.return_single_mask:
                low_res, scores = self.select_single(low_res, scores, point_coords.shape[1])
            if not self.upscale_in_graph:
                return scores, low_res
            return self.upscale(low_res, orig_im_size), scores, low_res

    return SamPromptDecoder().eval()


def dummy_inputs(sam: Any) -> dict[str, Any]:
    import torch

    channels = int(sam.prompt_encoder.embed_dim)
    h, w = sam.prompt_encoder.image_embedding_size
    mh, mw = sam.prompt_encoder.mask_input_size
    return {
        "image_embeddings": torch.randn(1, channels, h, w),
        "point_coords": torch.randint(0, int(sam.image_encoder.img_size), (1, 5, 2)).float(),
        "point_labels": torch.randint(0, 4, (1, 5)).float(),
        "mask_input": torch.randn(1, 1, mh, mw),
        "has_mask_input": torch.tensor([1.0]),
        # Non-square on purpose: a size baked into the graph would show up in the tests at once.
        "orig_im_size": torch.tensor([1500.0, 2250.0]),
    }


def _atomic_replace(tmp: Path, out_path: Path) -> None:
    out_path.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, out_path)


def export_decoder(
    sam: Any,
    out_path: str | Path,
    *,
    quantize: bool = False,
    return_single_mask: bool = True,
    upscale_in_graph: bool = True,
) -> str:
    """Write the decoder ONNX file (int8 weights when quantize) atomically; returns its sha256.
    upscale_in_graph=False: the low-res export (see LOW_RES_INPUT_NAMES)."""
    import torch

    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    module = _decoder_module(sam.cpu().eval(), return_single_mask, upscale_in_graph)
    inputs = dummy_inputs(sam)
    if not upscale_in_graph:
        del inputs["orig_im_size"]
    with tempfile.TemporaryDirectory(dir=out_path.parent) as work:
        fp32_path = Path(work) / "decoder.onnx"
        with torch.no_grad():
            # dynamo=False: torch 2.14's default dynamo exporter fails on this module.
            torch.onnx.export(
                module,
                tuple(inputs.values()),
                str(fp32_path),
                input_names=INPUT_NAMES if upscale_in_graph else LOW_RES_INPUT_NAMES,
                output_names=OUTPUT_NAMES if upscale_in_graph else LOW_RES_OUTPUT_NAMES,
                dynamic_axes={"point_coords": {1: "num_points"}, "point_labels": {1: "num_points"}},
                opset_version=OPSET,
                do_constant_folding=True,
                dynamo=False,
            )
        result = fp32_path
        if quantize:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            result = Path(work) / "decoder-int8.onnx"
            # Dynamic int8 quantisation of weights (activations stay float): 16.5 MB -> 4.7 MB.
            quantize_dynamic(str(fp32_path), str(result), per_channel=False, reduce_range=False, weight_type=QuantType.QUInt8)
        digest = hashlib.sha256(result.read_bytes()).hexdigest()
        _atomic_replace(result, out_path)
    return digest
