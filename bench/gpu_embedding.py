"""GPU embedding throughput without Django: vit_h and vit_b (random weights), batch 1/4/8, fp32 vs
fp16/bf16 autocast, through the worker's own encode_images (preprocessing included) and the bare
encoder forward. Prints a markdown table; stops starting new rows after --budget seconds.

    python bench/gpu_embedding.py                 # on a CUDA machine (segment_anything importable)
    python bench/gpu_embedding.py --smoke         # tiny ViT, CPU, seconds: checks the script runs
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np


def build(architecture: str, device):
    import torch
    from segment_anything import sam_model_registry
    from segment_anything.build_sam import _build_sam

    # Initialise on the device: a random vit_h takes tens of seconds to initialise on a CPU.
    with torch.device(device):
        if architecture == "tiny":
            sam = _build_sam(encoder_embed_dim=32, encoder_depth=1, encoder_num_heads=1, encoder_global_attn_indexes=[])
        else:
            sam = sam_model_registry[architecture](checkpoint=None)
    return sam.to(device).eval()  # buffers made with torch.Tensor(list) ignore the device context


def synchronize(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def run_row(sam, images, device, batch: int, half: bool, repeats: int) -> tuple[float, float]:
    """(pipeline images/s, bare forward images/s) for one batch size and precision."""
    import torch

    from segmentation.sam.encoder import _autocast_dtype, encode_images, preprocess_image

    chunk = images[:batch]
    encode_images(sam, chunk, device, batch_size=batch, autocast=half)  # warm-up
    synchronize(device)
    started = time.perf_counter()
    for _ in range(repeats):
        encode_images(sam, chunk, device, batch_size=batch, autocast=half)
    synchronize(device)
    pipeline = repeats * batch / (time.perf_counter() - started)

    tensor = torch.stack([preprocess_image(sam, image, device) for image in chunk])
    with (
        torch.inference_mode(),
        torch.autocast(device.type, dtype=_autocast_dtype(device), enabled=half and device.type == "cuda"),
    ):
        sam.image_encoder(tensor)
        synchronize(device)
        started = time.perf_counter()
        for _ in range(repeats):
            sam.image_encoder(tensor)
        synchronize(device)
    bare = repeats * batch / (time.perf_counter() - started)
    return pipeline, bare


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny ViT on CPU, batch 1/2, fp32 only")
    parser.add_argument("--budget", type=float, default=55.0, help="seconds after which no new row starts")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    began = time.perf_counter()
    if args.smoke:
        device, models, batches, precisions, repeats = torch.device("cpu"), ["tiny"], [1, 2], [False], 1
    else:
        if not torch.cuda.is_available():
            sys.exit("No CUDA device: use --smoke on a CPU.")
        device, models, batches, precisions, repeats = (
            torch.device("cuda"),
            ["vit_b", "vit_h"],
            [1, 4, 8],
            [False, True],
            args.repeats,
        )
        torch.backends.cuda.matmul.allow_tf32 = False  # "fp32" means fp32 here
        torch.backends.cudnn.allow_tf32 = False
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    half_name = "bf16" if device.type == "cuda" and torch.cuda.is_bf16_supported() else "fp16"
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (768, 1024, 3), dtype=np.uint8) for _ in range(max(batches))]
    print(f"Device: {name}; torch {torch.__version__}; 1024x768 RGB inputs (resized to 1024, padded)\n")
    print("| model | batch | precision | pipeline images/s | bare forward images/s | pipeline / bare |")
    print("|---|---|---|---|---|---|")
    for architecture in models:
        if time.perf_counter() - began > args.budget:
            break
        sam = build(architecture, device)
        for batch in batches:
            for half in precisions:
                if time.perf_counter() - began > args.budget:
                    print(f"(stopped: over the {args.budget:.0f} s budget)")
                    return
                pipeline, bare = run_row(sam, images, device, batch, half, repeats)
                label = f"{half_name} autocast" if half else "fp32"
                print(
                    f"| {architecture} | {batch} | {label} | {pipeline:.2f} | {bare:.2f} | {pipeline / bare:.2f} |",
                    flush=True,
                )
        del sam
        if device.type == "cuda":
            torch.cuda.empty_cache()
    print(f"\nwall time {time.perf_counter() - began:.1f} s")


if __name__ == "__main__":
    main()
