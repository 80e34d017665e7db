"""The model manifest: what the browser needs to run a model's decoders on its embeddings (no project:
the annotator's view picks the project's model and calls this)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from rest_framework.request import Request

from segmentation.models import SamModel
from segmentation.services.models import decoder_export, decoders_prepare


def _decoder_url(request: Request, model: SamModel, variant: str, sha256: str) -> str:
    """?v= names the content: a URL with the current sha256 prefix may be cached without revalidation."""
    url = reverse("api-model-decoder", args=[model.pk, variant])
    return request.build_absolute_uri(f"{url}?v={sha256[:16]}")


def first_click_manifest(request: Request, model: SamModel, graphs: dict[str, tuple[str, str]]) -> dict:
    """The split for prompts without a mask input (first click, hover): run "prep" once per image on
    the embedding, feed its outputs with the prompt to "fp32"/"int8"; refinement clicks (with the
    previous low-res mask) use the full decoders. graphs: the model's current export record."""
    channels, height, width = model.embedding_shape
    entry: dict[str, Any] = {
        graph.removeprefix("first-click-"): {
            "url": _decoder_url(request, model, graph, graphs[graph][1]),
            "sha256": graphs[graph][1],
        }
        for graph in ("prep", "first-click-fp32", "first-click-int8")
    }
    entry["prep_inputs"] = {"image_embeddings": [1, channels, height, width]}
    entry["prep_outputs"] = ["image_tokens", "t2i_keys", "t2i_values", "i2t_queries"]
    entry["inputs"] = ["point_coords", "point_labels", *entry["prep_outputs"]]
    entry["outputs"] = {"iou_predictions": [1, 4], "low_res_masks": [1, 4, 4 * height, 4 * width]}
    return entry


def manifest(request: Request, model: SamModel) -> dict:
    """The model and its decoders. The graphs described are exactly the current export's
    (DECODER_EXPORT_VERSION): a model whose stored decoders are older gets no decoders here and
    decoder_state "preparing" (a background re-export was queued; ask again) or "unavailable"."""
    channels, height, width = model.embedding_shape
    graphs = decoder_export(model)
    state = "ready" if graphs is not None else decoders_prepare(model)
    if graphs is None and state == "ready":  # exported in this request (eager Celery)
        model.refresh_from_db()
        graphs = decoder_export(model)
    return {
        "model": {
            "id": model.pk,
            "name": model.name,
            "architecture": model.architecture,
            "checkpoint_sha256": model.checkpoint_sha256,
            # The embeddings' key (their X-Model-Sha256): a fine-tuned version keeps its parent's.
            "encoder_sha256": model.encoder_sha256,
        },
        "encoder_input_size": model.encoder_input_size,
        "embedding": {
            "shape": model.embedding_shape,
            "dtype": "float16",
            "format": "SAMEMB01 (docs/embedding-format.md)",
            "url_template": "/api/images/{image_id}/embedding/",
        },
        "decoder_state": "ready" if graphs else state,
        "decoders": {
            variant: {"url": _decoder_url(request, model, variant, graphs[variant][1]), "sha256": graphs[variant][1]}
            for variant in ("fp32", "int8")
        }
        if graphs
        else {},
        # The registered graphs are low-res (DECODER_EXPORT_VERSION >= 3): no orig_im_size, no full-size
        # masks; the client upscales the low-res logits of the mask it draws (resize to
        # encoder_input_size, crop the padding, resize to the image: one separable pass).
        "decoder_inputs": {
            "image_embeddings": [1, channels, height, width],
            "point_coords": [1, "N", 2],
            "point_labels": [1, "N"],
            "mask_input": [1, 1, 4 * height, 4 * width],
            "has_mask_input": [1],
        },
        "decoder_outputs": {"iou_predictions": [1, 4], "low_res_masks": [1, 4, 4 * height, 4 * width]},
        "upscale": "low_res_masks -> bilinear to encoder_input_size square, crop [0:round(H*scale), 0:round(W*scale)], "
        "bilinear to H x W (align_corners false), mask = logits > mask_threshold",
        "first_click": first_click_manifest(request, model, graphs) if graphs else None,
        "mask_choice": "with <= 2 prompt points: best of outputs 1..3 by predicted IoU; else output 0",
        "coordinates": {
            "scale": "encoder_input_size / max(image_height, image_width)",
            "point": "model_xy = image_xy * scale (x, y order; pixel centres handled inside the graph)",
            "labels": {"background": 0, "foreground": 1, "box_top_left": 2, "box_bottom_right": 3, "padding": -1},
            "padding_point": "without a box, append point (0, 0) with label -1",
            "mask_threshold": 0.0,
        },
    }
