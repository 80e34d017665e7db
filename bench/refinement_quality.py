"""Mask quality along a click chain: each decoder variant feeds back its OWN previous low-res mask, as
the browser does, and every refinement click's chosen mask is compared with the plain official-style
fp32 export's (also fed its own previous mask). Random prompts on 4 scikit-image photos, 8 chains of
4 clicks each (first positive, then 60% positive); the first click is not counted (bench/decoder_graphs.py
covers it). Decides which graph serves refinement clicks in the browser (docs/benchmarks.md).

Usage: .venv/bin/python bench/refinement_quality.py [--model default|vit_t]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model",
        choices=["default", "vit_t"],
        default="default",
        help="the committed default model, or a vit_b-size decoder (vit_t, random weights)",
    )
    parser.add_argument("--chains", type=int, default=8, help="click chains per image")
    args = parser.parse_args()

    import django

    django.setup()
    import onnxruntime as ort
    import torch
    from skimage import data as samples

    from segmentation.sam.default_arch import build_default_sam
    from segmentation.sam.encoder import encode_images
    from segmentation.sam.loader import build_sam
    from segmentation.sam.onnx_decoder import image_to_model_coords, official_mask_index, upscale_low_res
    from segmentation.sam.onnx_export import export_decoder
    from segmentation.services.models import FIRST_CLICK_QUANTIZE_UPSCALING, FIRST_CLICK_UPSCALING, INT8_SCHEME

    torch.manual_seed(0)  # the vit_t decoder's random weights: the same every run
    checkpoint = Path(__file__).resolve().parents[1] / "segmentation/default_model/default_sam.pt"
    sam = build_default_sam(checkpoint) if args.model == "default" else build_sam("vit_t")
    size = sam.image_encoder.img_size
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    with tempfile.TemporaryDirectory() as work:
        export_decoder(sam, f"{work}/plain.onnx", return_single_mask=False)
        # As registered (services/models.py): low-res, token-layout upscaling kept fp32 in the int8 file.
        registered = {
            "return_single_mask": False,
            "upscale_in_graph": False,
            "upscaling": FIRST_CLICK_UPSCALING,
            "quantize_upscaling": FIRST_CLICK_QUANTIZE_UPSCALING,
        }
        export_decoder(sam, f"{work}/int8.onnx", quantize=True, int8_scheme=INT8_SCHEME, **registered)
        export_decoder(sam, f"{work}/fp32.onnx", **registered)
        sessions = {
            name: ort.InferenceSession(f"{work}/{name}.onnx", options, providers=["CPUExecutionProvider"])
            for name in ("plain", "int8", "fp32")
        }

        def decode(name, emb, points, labels, previous, height, width):
            coords = image_to_model_coords(np.array(points, np.float32), height, width, size)
            feeds = {
                "image_embeddings": emb,
                "point_coords": np.concatenate([coords, np.zeros((1, 2), np.float32)])[None].astype(np.float32),
                "point_labels": np.array([*labels, -1], np.float32)[None],
                "mask_input": previous if previous is not None else np.zeros((1, 1, 256, 256), np.float32),
                "has_mask_input": np.array([0.0 if previous is None else 1.0], np.float32),
            }
            if name == "plain":
                feeds["orig_im_size"] = np.array([height, width], np.float32)
                masks, ious, low = sessions[name].run(None, feeds)
                index = official_mask_index(ious[0], len(points))
                return masks[0, index] > 0, low[:, index : index + 1]
            ious, low = sessions[name].run(None, feeds)
            index = official_mask_index(ious[0], len(points))
            return upscale_low_res(low[0, index : index + 1], height, width, size)[0] > 0, low[:, index : index + 1]

        rng = np.random.default_rng(5)
        scores: dict[str, list[float]] = {"int8": [], "fp32": []}
        for image in (samples.astronaut(), samples.coffee(), samples.chelsea(), samples.rocket()):
            height, width = image.shape[:2]
            emb = encode_images(sam, [image], "cpu")[0].astype(np.float32)[None]
            for _ in range(args.chains):
                points: list[list[float]] = []
                labels: list[int] = []
                previous = dict.fromkeys(sessions)
                for click in range(4):
                    points.append([float(rng.uniform(0, width - 1)), float(rng.uniform(0, height - 1))])
                    labels.append(1 if click == 0 or rng.random() < 0.6 else 0)
                    reference, previous["plain"] = decode(
                        "plain", emb, points, labels, previous["plain"], height, width
                    )
                    for name in scores:
                        mask, previous[name] = decode(name, emb, points, labels, previous[name], height, width)
                        if click:
                            union = np.logical_or(mask, reference).sum()
                            scores[name].append(
                                1.0 if union == 0 else float(np.logical_and(mask, reference).sum() / union)
                            )
    for name, values in scores.items():
        v = np.array(values)
        print(
            f"{args.model} low-res {name} refinement IoU vs plain fp32: n {len(v)} min {v.min():.4f} "
            f"p5 {np.percentile(v, 5):.4f} mean {v.mean():.4f}"
        )


if __name__ == "__main__":
    main()
