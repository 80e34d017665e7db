"""Embedding throughput on this machine's CPU: the full pipeline against the bare encoder forward.

pipeline = decode the PNG -> SAM preprocessing (resize, normalise, pad) -> encoder forward under
           inference_mode -> float16 -> header + bytes -> atomic file write (what the worker does,
           minus the database)
bare     = encoder forward alone on an already preprocessed tensor (the baseline)
Target: pipeline throughput >= 0.9 x bare. Random weights (speed does not depend on their values).

    .venv/bin/python bench/embedding_throughput.py                 # default model (5 images) + vit_b (2)
    .venv/bin/python bench/embedding_throughput.py --quick         # default model, 1 image (tests)
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np


def sample_pngs(count: int) -> list[bytes]:
    """PNG bytes of scikit-image's bundled photographs (no download), cycled to `count`."""
    from PIL import Image
    from skimage import data

    photos = [data.astronaut(), data.coffee(), data.chelsea(), data.rocket(), data.hubble_deep_field()]
    result = []
    for index in range(count):
        buffer = io.BytesIO()
        Image.fromarray(photos[index % len(photos)]).save(buffer, format="PNG")
        result.append(buffer.getvalue())
    return result


def measure(architecture: str, images: int, threads: int | None) -> dict:
    import torch
    from PIL import Image

    from segmentation.sam.encoder import encode_images, preprocess_image
    from segmentation.sam.loader import build_sam
    from segmentation.storage import encode_embedding

    if threads:
        torch.set_num_threads(threads)
    sam = build_sam(architecture)
    pngs = sample_pngs(images)
    bare, pipeline = [], []
    with torch.inference_mode():  # warm-up: the first forward allocates and picks kernels
        sam.image_encoder(preprocess_image(sam, np.zeros((64, 64, 3), np.uint8), "cpu")[None])
    with tempfile.TemporaryDirectory() as folder:
        for index, png in enumerate(pngs):
            # Bare forward first, on the preprocessed tensor (preprocessing is not timed here).
            pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
            tensor = preprocess_image(sam, pixels, "cpu")[None]
            with torch.inference_mode():
                started = time.perf_counter()
                sam.image_encoder(tensor)
                bare.append(time.perf_counter() - started)
            started = time.perf_counter()
            pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
            embedding = encode_images(sam, [pixels], "cpu", batch_size=1)[0]
            data = encode_embedding(embedding, model_sha256="0" * 64, image_sha256=f"{index:064d}")
            target = Path(folder) / f"{index}.f16"
            tmp = target.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.replace(target)
            pipeline.append(time.perf_counter() - started)
    bare_median, pipeline_median = statistics.median(bare), statistics.median(pipeline)
    return {
        "model": architecture,
        "images": images,
        "img_size": sam.image_encoder.img_size,
        "bare_s": bare_median,
        "pipeline_s": pipeline_median,
        "ratio": bare_median / pipeline_median,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="default model, one image")
    parser.add_argument("--images", type=int, default=5, help="images for the default model")
    parser.add_argument("--vit-b-images", type=int, default=2, help="images for vit_b (about 17 s each here)")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    plan = [("default", 1)] if args.quick else [("default", args.images), ("vit_b", args.vit_b_images)]
    print(
        "| model | input | images | bare forward, median s | pipeline, median s | images/s (pipeline) | pipeline / bare |"
    )
    print("|---|---|---|---|---|---|---|")
    for architecture, count in plan:
        row = measure(architecture, count, args.threads)
        print(
            f"| {row['model']} | {row['img_size']} | {row['images']} | {row['bare_s']:.3f} | {row['pipeline_s']:.3f} | "
            f"{1 / row['pipeline_s']:.2f} | {row['ratio']:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
