"""Batched prompt encoding, decoding and labeler-like click sampling on the training device.

Prompts are encoded exactly as the exported ONNX decoder does (SamOnnxModel): clicks are points with
labels 1/0, a box is two points labelled 2/3, a click-only prompt ends with one padding point
(label -1), and the previous low-res logits come in as mask_input with a has_mask flag. Training on
that representation is what makes the trained decoder behave the same in the browser.
"""

from __future__ import annotations

import torch
from torch.nn import functional as F


def embed_points(prompt_encoder, coords: torch.Tensor, labels: torch.Tensor, img_size: int) -> torch.Tensor:
    """(N, P, 2) input-pixel coords, (N, P) labels in {-1, 0, 1, 2, 3} -> (N, P, C) sparse tokens."""
    emb = prompt_encoder.pe_layer._pe_encoding((coords + 0.5) / img_size)
    lab = labels.unsqueeze(-1)
    emb = emb * (lab != -1) + prompt_encoder.not_a_point_embed.weight * (lab == -1)
    for i in range(prompt_encoder.num_point_embeddings):
        emb = emb + prompt_encoder.point_embeddings[i].weight * (lab == i)
    return emb


def embed_mask(prompt_encoder, mask_input: torch.Tensor, has_mask: torch.Tensor) -> torch.Tensor:
    """(N, 1, 4h, 4w) logits and (N,) 0/1 flags -> (N, C, h, w) dense embedding."""
    flag = has_mask.view(-1, 1, 1, 1).to(mask_input.dtype)
    no_mask = prompt_encoder.no_mask_embed.weight.reshape(1, -1, 1, 1)
    return flag * prompt_encoder.mask_downscaling(mask_input) + (1 - flag) * no_mask


def decode(mask_decoder, embeddings: torch.Tensor, image_pe: torch.Tensor, sparse: torch.Tensor, dense: torch.Tensor):
    """MaskDecoder.predict_masks for N prompts, each with its own (N, C, h, w) embedding.

    segment_anything's own version repeats ONE image embedding for all prompts; this one takes the
    embeddings already gathered per prompt, so several images and targets share a forward.
    Returns all 4 mask tokens: masks (N, 4, 4h, 4w) logits and iou (N, 4).
    """
    d = mask_decoder
    n = sparse.shape[0]
    out_tokens = torch.cat([d.iou_token.weight, d.mask_tokens.weight], 0).unsqueeze(0).expand(n, -1, -1)
    tokens = torch.cat([out_tokens.to(sparse.dtype), sparse], 1)
    src = embeddings + dense
    pos = image_pe.expand(n, -1, -1, -1)
    b, c, h, w = src.shape
    hs, src = d.transformer(src, pos, tokens)
    src = src.transpose(1, 2).reshape(b, c, h, w)
    up = d.output_upscaling(src)
    hyper = torch.stack([d.output_hypernetworks_mlps[i](hs[:, 1 + i]) for i in range(d.num_mask_tokens)], 1)
    b, c, h, w = up.shape
    masks = (hyper @ up.view(b, c, h * w)).view(b, -1, h, w)
    return masks, d.iou_prediction_head(hs[:, 0])


def _depth_map(region: torch.Tensor, steps: int) -> torch.Tensor:
    """Approximate distance to the region's border (capped at `steps`) by summing erosions,
    alternating square and cross structuring elements (an octagonal, near-Euclidean metric)."""
    x = region.float().unsqueeze(1)
    depth = torch.zeros_like(x)
    for i in range(steps):
        xp = F.pad(x, (1, 1, 1, 1))  # zero border: the image edge is a region border, as in the simulator
        if i % 2 == 0:
            x = -F.max_pool2d(-xp, 3, 1)
        else:
            x = torch.minimum(-F.max_pool2d(-xp[..., 1:-1], (3, 1), 1), -F.max_pool2d(-xp[..., 1:-1, :], (1, 3), 1))
        # Checking for an empty region syncs a GPU with the host: only every 8th erosion.
        if i % 8 == 7 and not bool(x.any()):
            break
        depth = depth + x
    return depth.squeeze(1)


def sample_clicks(
    error: torch.Tensor, target: torch.Tensor, p_center: float, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """One corrective click per sample from its error region, as a labeler would place it.

    error, target: (N, H, W) bool at the low-res grid (input pixels / 2). With probability p_center a
    sample clicks the deepest error point (what the evaluation's click simulator does), otherwise a
    uniformly random error pixel (SAM's recipe; covers sloppy clicks). The label is the truth at the
    point: positive on missed foreground, negative on a false positive. A sample without error
    clicks its own foreground. Returns coords (N, 2) x, y in input pixels and labels (N,) int.
    """
    n, h, w = error.shape
    dev = error.device
    # Deepest point: erosion depth on a 2x-coarser grid keeps the loop short for big regions.
    coarse = F.avg_pool2d(error.float().unsqueeze(1), 2).squeeze(1) >= 0.5
    depth = _depth_map(coarse, steps=40)
    noise = torch.rand(depth.shape, device=dev, generator=generator) * 0.5
    flat = (depth + noise * (depth > 0)).flatten(1)
    best = flat.argmax(1)
    has_depth = flat.gather(1, best[:, None]).squeeze(1) > 0
    cy, cx = (best // (w // 2)) * 2 + 1, (best % (w // 2)) * 2 + 1
    # Uniform error pixel (foreground if nothing is wrong; anywhere if even that is empty).
    weights = error.flatten(1).float() + 1e-4 * target.flatten(1).float() + 1e-8
    pick = torch.multinomial(weights, 1, generator=generator).squeeze(1)
    uy, ux = pick // w, pick % w
    use_center = has_depth & (torch.rand(n, device=dev, generator=generator) < p_center)
    y = torch.where(use_center, cy.clamp(max=h - 1), uy)
    x = torch.where(use_center, cx.clamp(max=w - 1), ux)
    labels = target[torch.arange(n, device=dev), y, x].long()
    scale = 2  # low-res grid -> input pixels
    coords = torch.stack([x * scale + (scale // 2), y * scale + (scale // 2)], 1).float()
    return coords, labels


def jitter_boxes(boxes: torch.Tensor, img_size: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """SAM's box noise: each coordinate moves by N(0, 0.1 * side), at most 20 px."""
    side = torch.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]] * 2, 1)
    noise = torch.randn(boxes.shape, device=boxes.device, generator=generator) * 0.1 * side
    out = boxes + noise.clamp(-20, 20)
    return out.clamp(0, img_size - 1)
