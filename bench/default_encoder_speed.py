"""Median CPU time to encode one 1024x1024 image: the default model's encoder vs MobileSAM vit_t.

    .venv/bin/python bench/default_encoder_speed.py [--threads 2] [--repeats 7]

Both run SAM's full preprocessing (resize longest side to the encoder's img_size, normalise, pad)
on the same random 1024-px image, with random weights (speed does not depend on the values).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def median_seconds(sam, image: np.ndarray, repeats: int) -> float:
    import torch
    from segment_anything.utils.transforms import ResizeLongestSide

    transform = ResizeLongestSide(sam.image_encoder.img_size)

    def encode() -> None:
        x = torch.as_tensor(transform.apply_image(image)).permute(2, 0, 1)[None].float()
        sam.image_encoder(sam.preprocess(x))

    times = []
    with torch.inference_mode():
        encode()  # warm-up: first call allocates and picks kernels
        for _ in range(repeats):
            start = time.perf_counter()
            encode()
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    from segmentation.sam.default_arch import build_default_sam

    image = np.random.default_rng(0).integers(0, 256, (1024, 1024, 3), dtype=np.uint8)
    default = median_seconds(build_default_sam().eval(), image, args.repeats)
    print(f"default encoder: {default * 1000:.0f} ms per 1024-px image ({args.threads} threads)")
    if not args.skip_baseline:
        from mobile_sam import sam_model_registry

        vit_t = median_seconds(sam_model_registry["vit_t"](checkpoint=None).eval(), image, args.repeats)
        print(f"MobileSAM vit_t: {vit_t * 1000:.0f} ms per 1024-px image ({args.threads} threads)")


if __name__ == "__main__":
    main()
