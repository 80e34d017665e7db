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

from segmentation.sam.onnx_quantize import DEFAULT_INT8_SCHEME, quantize_graph, token_upscaling_matmuls

OPSET = 17
INPUT_NAMES = ["image_embeddings", "point_coords", "point_labels", "mask_input", "has_mask_input", "orig_im_size"]
OUTPUT_NAMES = ["masks", "iou_predictions", "low_res_masks"]
# The low-res export (upscale_in_graph=False): no orig_im_size input and no full-size masks output;
# the client upscales and thresholds the one low-res mask it draws (onnx_decoder.upscale_low_res and
# frontend/src/sam/upscale.ts), which is cheaper than 4 full-size masks in the graph per click.
LOW_RES_INPUT_NAMES = INPUT_NAMES[:-1]
LOW_RES_OUTPUT_NAMES = OUTPUT_NAMES[1:]


def _decoder_module(sam: Any, return_single_mask: bool, upscale_in_graph: bool = True, upscaling: str = "conv") -> Any:
    """upscaling "token": MaskDecoder.predict_masks with the output upscaling in token layout
    (_token_upscaling_masks, the same arithmetic), as the first-click graph does."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    decoder = sam.mask_decoder

    class TokenUpscaling(nn.Module):  # a module so its ONNX nodes are named /token_upscaling/...
        def forward(self, keys, hyper, h: int, w: int):
            return _token_upscaling_masks(decoder, keys, hyper, h, w)

    class SamPromptDecoder(nn.Module):
        """Prompt encoder + mask decoder + mask upscaling, traceable with dynamic sizes."""

        def __init__(self) -> None:
            super().__init__()
            self.prompt_encoder = sam.prompt_encoder
            self.mask_decoder = sam.mask_decoder
            self.img_size = int(sam.image_encoder.img_size)
            self.return_single_mask = return_single_mask
            self.upscale_in_graph = upscale_in_graph
            self.token_upscaling = TokenUpscaling() if upscaling == "token" else None

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
            # Tensors, not ints, as the size: the traced graph keeps it dynamic.
            return F.interpolate(masks, size=(size[0], size[1]), mode="bilinear", align_corners=False)  # type: ignore[arg-type]

        def select_single(
            self, masks: torch.Tensor, scores: torch.Tensor, num_points: int
        ) -> tuple[torch.Tensor, torch.Tensor]:
            # Official rule without control flow: with <= 2 points (one click + padding, or a box
            # alone) take the best multimask output; otherwise the single-mask token 0.
            reweight = torch.zeros_like(scores)
            reweight[:, 0] = 1000.0
            best = torch.argmax(scores + (num_points - 2.5) * reweight, dim=1)
            rows = torch.arange(masks.shape[0])
            return masks[rows, best].unsqueeze(1), scores[rows, best].unsqueeze(1)

        def predict_masks_token_layout(self, image_embeddings, sparse, dense):
            """MaskDecoder.predict_masks for one prompt set, the upscaling in token layout."""
            output_tokens = torch.cat([decoder.iou_token.weight, decoder.mask_tokens.weight], dim=0).unsqueeze(0)
            tokens = torch.cat((output_tokens, sparse), dim=1)
            src = image_embeddings + dense
            _, _, h, w = src.shape
            hs, keys = decoder.transformer(src, self.prompt_encoder.get_dense_pe(), tokens)
            mask_tokens = hs[:, 1 : 1 + decoder.num_mask_tokens, :]
            hyper = torch.stack(
                [mlp(mask_tokens[:, i, :]) for i, mlp in enumerate(decoder.output_hypernetworks_mlps)], dim=1
            )
            return self.token_upscaling(keys, hyper, h, w), decoder.iou_prediction_head(hs[:, 0, :])

        def forward(self, image_embeddings, point_coords, point_labels, mask_input, has_mask_input, orig_im_size=None):
            sparse = self.embed_points(point_coords, point_labels)
            dense = self.embed_mask(mask_input, has_mask_input)
            if self.token_upscaling is not None:
                low_res, scores = self.predict_masks_token_layout(image_embeddings, sparse, dense)
            else:
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


# The first-click split (no mask input: first click, hover). With has_mask_input = 0 the image
# side of the decoder's first two-way layer only depends on the image: src = embedding +
# no_mask_embed, the token->image attention's keys (src + pe) Wk and values src Wv, and the
# image->token attention's queries (src + pe) Wq over all h*w image tokens. A per-image "prep"
# graph computes them once; the "first-click" graph takes them as inputs and runs the rest.
PREP_INPUT_NAMES = ["image_embeddings"]
PREP_OUTPUT_NAMES = ["image_tokens", "t2i_keys", "t2i_values", "i2t_queries"]
FIRST_CLICK_INPUT_NAMES = ["point_coords", "point_labels", *PREP_OUTPUT_NAMES]


def _matmul_upscaling(decoder: Any, tokens: Any, h: int, w: int) -> Any:
    """decoder.output_upscaling (ConvTranspose2d k=2 s=2, LayerNorm2d, GELU, ConvTranspose2d k=2 s=2,
    GELU) on (1, h*w, C) tokens, each transposed conv written as a per-pixel MatMul (C_in -> 4 C_out)
    + pixel shuffle (DepthToSpace, CRD order = the weight's own (C_out, 2, 2) flattening): the same
    arithmetic, but a MatMul that dynamic int8 quantisation covers (ConvTranspose it does not)."""
    from torch.nn import functional as F

    up1, norm, act1, up2, act2 = decoder.output_upscaling

    def transposed(x, conv, height, width):  # x: (1, height*width, C_in) -> (1, C_out, 2h, 2w)
        c_in, c_out = conv.weight.shape[0], conv.weight.shape[1]
        y = x @ conv.weight.reshape(c_in, c_out * 4) + conv.bias.repeat_interleave(4)
        return F.pixel_shuffle(y.transpose(1, 2).reshape(1, c_out * 4, height, width), 2)

    x = act1(norm(transposed(tokens, up1, h, w)))
    return act2(transposed(x.flatten(2).transpose(1, 2), up2, 2 * h, 2 * w))


def _token_upscaling_masks(decoder: Any, tokens: Any, hyper: Any, h: int, w: int) -> Any:
    """Output upscaling + hypernetwork product, in token layout end to end: each transposed conv is a
    per-pixel MatMul (C_in -> 4 sub-pixels x C_out, columns ordered (di, dj, c)), the sub-pixels become
    rows, LayerNorm2d is a LayerNormalization over the last axis, the hypernetwork product runs per
    sub-pixel row, and one Transpose of the K (= 4) mask channels puts sub-pixels in place at the end
    (instead of DepthToSpace + Transposes of the 64- and 32-channel maps). Same arithmetic as
    output_upscaling; the MatMuls are covered by dynamic int8 quantisation, ConvTranspose is not."""
    from torch.nn import functional as F

    up1, norm, act1, up2, act2 = decoder.output_upscaling
    c1, c2, k = up1.weight.shape[1], up2.weight.shape[1], hyper.shape[1]
    w1 = up1.weight.permute(0, 2, 3, 1).reshape(up1.weight.shape[0], 4 * c1)
    x = (tokens @ w1 + up1.bias.repeat(4)).reshape(1, h * w * 4, c1)  # rows: (i, j, di1, dj1)
    x = act1(F.layer_norm(x, (c1,), norm.weight, norm.bias, norm.eps))
    w2 = up2.weight.permute(0, 2, 3, 1).reshape(c1, 4 * c2)
    x = act2(x @ w2 + up2.bias.repeat(4)).reshape(1, h * w * 16, c2)  # rows: (i, j, di1, dj1, di2, dj2)
    masks = x @ hyper.transpose(1, 2)  # (1, 16 h w, K)
    # pixel (4i + 2 di1 + di2, 4j + 2 dj1 + dj2)
    return masks.reshape(h, w, 2, 2, 2, 2, k).permute(6, 0, 2, 4, 1, 3, 5).reshape(1, k, 4 * h, 4 * w)


UPSCALINGS = ("conv", "matmul", "token")


def _first_click_modules(sam: Any, upscale_module: Any, upscaling: str = "conv") -> tuple[Any, Any]:
    """(prep, first_click) torch modules; upscale_module is a _decoder_module (for embed_points).
    upscaling: "conv" (the module's ConvTranspose2d), "matmul" (MatMul + DepthToSpace,
    _matmul_upscaling) or "token" (_token_upscaling_masks); all the same arithmetic."""
    import math

    import torch
    from torch import nn

    decoder = sam.mask_decoder
    transformer = decoder.transformer
    first = transformer.layers[0]
    t2i, i2t = first.cross_attn_token_to_image, first.cross_attn_image_to_token
    heads = t2i.num_heads

    def split(x: torch.Tensor) -> torch.Tensor:  # (1, n, c) -> (1, heads, n, c / heads)
        b, n, c = x.shape
        return x.reshape(b, n, heads, c // heads).transpose(1, 2)

    def merge(x: torch.Tensor) -> torch.Tensor:
        b, nh, n, c = x.shape
        return x.transpose(1, 2).reshape(b, n, nh * c)

    def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        attn = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1)
        return merge(attn @ v)

    class Prep(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.prompt_encoder = sam.prompt_encoder
            self.t2i, self.i2t = t2i, i2t  # registered, so the tracer sees their weights as parameters

        def forward(self, image_embeddings):
            src = image_embeddings + self.prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1)
            tokens = src.flatten(2).permute(0, 2, 1)
            pe = self.prompt_encoder.get_dense_pe().flatten(2).permute(0, 2, 1)
            keyed = tokens + pe
            return tokens, split(t2i.k_proj(keyed)), split(t2i.v_proj(tokens)), split(i2t.q_proj(keyed))

    class TokenUpscaling(nn.Module):  # a module so its ONNX nodes are named /token_upscaling/...
        def forward(self, keys, hyper, h: int, w: int):
            return _token_upscaling_masks(decoder, keys, hyper, h, w)

    class FirstClick(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inner = upscale_module  # holds the prompt encoder and the mask decoder
            self.token_upscaling = TokenUpscaling()

        def forward(self, point_coords, point_labels, image_tokens, t2i_keys, t2i_values, i2t_queries):
            sparse = self.inner.embed_points(point_coords, point_labels)
            output_tokens = torch.cat([decoder.iou_token.weight, decoder.mask_tokens.weight], dim=0).unsqueeze(0)
            tokens = torch.cat((output_tokens, sparse), dim=1)
            pe = sam.prompt_encoder.get_dense_pe().flatten(2).permute(0, 2, 1)
            # Layer 0 (skip_first_layer_pe), image-side projections precomputed.
            queries = first.norm1(first.self_attn(q=tokens, k=tokens, v=tokens))
            q = split(t2i.q_proj(queries + tokens))
            queries = first.norm2(queries + t2i.out_proj(attend(q, t2i_keys, t2i_values)))
            queries = first.norm3(queries + first.mlp(queries))
            q = queries + tokens
            out = attend(i2t_queries, split(i2t.k_proj(q)), split(i2t.v_proj(queries)))
            keys = first.norm4(image_tokens + i2t.out_proj(out))
            for layer in transformer.layers[1:]:
                queries, keys = layer(queries=queries, keys=keys, query_pe=tokens, key_pe=pe)
            attn_out = transformer.final_attn_token_to_image(q=queries + tokens, k=keys + pe, v=keys)
            hs = transformer.norm_final_attn(queries + attn_out)
            # The rest of MaskDecoder.predict_masks.
            c = image_tokens.shape[2]
            h, w = (int(side) for side in sam.prompt_encoder.image_embedding_size)
            mask_tokens = hs[:, 1 : 1 + decoder.num_mask_tokens, :]
            hyper = torch.stack(
                [mlp(mask_tokens[:, i, :]) for i, mlp in enumerate(decoder.output_hypernetworks_mlps)], dim=1
            )
            if upscaling == "token":
                return decoder.iou_prediction_head(hs[:, 0, :]), self.token_upscaling(keys, hyper, h, w)
            if upscaling == "matmul":
                upscaled = _matmul_upscaling(decoder, keys, h, w)
            else:
                upscaled = decoder.output_upscaling(keys.transpose(1, 2).reshape(1, c, h, w))
            b, uc, uh, uw = upscaled.shape
            masks = (hyper @ upscaled.reshape(b, uc, uh * uw)).reshape(b, -1, uh, uw)
            return decoder.iou_prediction_head(hs[:, 0, :]), masks

    return Prep().eval(), FirstClick().eval()


def export_first_click(
    sam: Any,
    prep_path: str | Path,
    decoder_path: str | Path,
    *,
    quantize: bool = False,
    int8_scheme: str | None = None,
    upscaling: str = "conv",
    quantize_upscaling: bool = True,
) -> None:
    """The per-image prep graph (fp32) and the first-click decoder graph (low-res outputs, all 4
    tokens; int8 weights when quantize). Same outputs as the low-res export with has_mask_input = 0.
    quantize_upscaling=False keeps the token-layout upscaling's MatMuls in fp32 (mask quality)."""
    import torch

    sam = sam.cpu().eval()
    if upscaling not in UPSCALINGS:
        raise ValueError(f"unknown upscaling {upscaling!r}; one of {UPSCALINGS}")
    prep, first_click = _first_click_modules(sam, _decoder_module(sam, False, False), upscaling)
    embedding = dummy_inputs(sam)["image_embeddings"]
    coords = torch.tensor([[[100.0, 200.0], [0.0, 0.0]]])
    labels = torch.tensor([[1.0, -1.0]])
    Path(prep_path).parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        prepared = prep(embedding)
        torch.onnx.export(
            prep,
            (embedding,),
            str(prep_path),
            input_names=PREP_INPUT_NAMES,
            output_names=PREP_OUTPUT_NAMES,
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )
        with tempfile.TemporaryDirectory(dir=Path(decoder_path).parent) as work:
            fp32_path = Path(work) / "first-click.onnx"
            torch.onnx.export(
                first_click,
                (coords, labels, *prepared),
                str(fp32_path),
                input_names=FIRST_CLICK_INPUT_NAMES,
                output_names=LOW_RES_OUTPUT_NAMES,
                dynamic_axes={"point_coords": {1: "num_points"}, "point_labels": {1: "num_points"}},
                opset_version=OPSET,
                do_constant_folding=True,
                dynamo=False,
            )
            if quantize:
                exclude = [] if quantize_upscaling else token_upscaling_matmuls(fp32_path)
                quantize_graph(fp32_path, decoder_path, int8_scheme or DEFAULT_INT8_SCHEME, exclude_nodes=exclude)
            else:
                os.replace(fp32_path, decoder_path)


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


def export_decoder(
    sam: Any,
    out_path: str | Path,
    *,
    quantize: bool = False,
    return_single_mask: bool = True,
    upscale_in_graph: bool = True,
    int8_scheme: str | None = None,
    upscaling: str = "conv",
    quantize_upscaling: bool = True,
) -> str:
    """Write the decoder ONNX file (int8 weights when quantize, int8_scheme one of INT8_SCHEMES' dynamic
    ones) atomically; returns its sha256. upscale_in_graph=False: the low-res export (see
    LOW_RES_INPUT_NAMES). upscaling "token": the output upscaling in token layout (as the first-click
    graph; quantize_upscaling=False keeps its MatMuls fp32 in the int8 file)."""
    import torch

    if upscaling not in ("conv", "token"):
        raise ValueError(f"unknown upscaling {upscaling!r}; one of ('conv', 'token')")
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    module = _decoder_module(sam.cpu().eval(), return_single_mask, upscale_in_graph, upscaling)
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
            result = Path(work) / "decoder-int8.onnx"
            # Dynamic int8 quantisation of weights (activations quantised per run): 16.5 MB -> 4.7 MB.
            quantize_graph(
                fp32_path,
                result,
                int8_scheme or DEFAULT_INT8_SCHEME,
                exclude_nodes=[] if quantize_upscaling else token_upscaling_matmuls(fp32_path),
            )
        digest = hashlib.sha256(result.read_bytes()).hexdigest()
        os.replace(result, out_path)  # same folder: atomic
    return digest
