"""Slice propagation on a generated phantom series: a noisy CT-like volume (a body ellipse with an
ellipsoid lesion and a tilted tube), truth masks per slice. The labeler's seed is simulated on the
middle slice with the project's click simulator (segmentation.evaluation.clicks) until IoU >= 0.90
(or --max-clicks); propagation then runs both ways with the default StopRule. Prints per-slice IoU, the
median IoU of propagated slices, how many slices were correctly propagated / stopped, and the
clicks saved against clicking every slice from scratch (the same simulator, same model, same
process; a slice "costs" its clicks to IoU >= --target).

Usage: .venv/bin/python bench/propagation.py [--slices 25] [--size 128] [--object ellipsoid|tube]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


def phantom(slices: int, size: int, kind: str, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(slices, size, size, 3) uint8 windowed pictures (soft tissue 40/400) and (slices, size, size)
    bool truth of the object."""
    rng = np.random.default_rng(seed)
    z, y, x = np.mgrid[0:slices, 0:size, 0:size].astype(np.float32)
    c = size / 2
    body = ((x - c) / (0.42 * size)) ** 2 + ((y - c) / (0.34 * size)) ** 2 <= 1
    hu = np.where(body, 40.0, -1000.0)
    hu += np.where(((x - c * 0.7) / (0.08 * size)) ** 2 + ((y - c * 1.1) / (0.1 * size)) ** 2 <= 1, 300.0, 0)  # "bone"
    if kind == "ellipsoid":
        zc = (slices - 1) / 2
        truth = ((x - c * 1.15) / (0.16 * size)) ** 2 + ((y - c * 0.95) / (0.12 * size)) ** 2 + (
            (z - zc) / (0.32 * slices)
        ) ** 2 <= 1
    else:  # a tube crossing the slices at an angle (a vessel), the whole series long
        cx = c * 1.1 + (z - slices / 2) * (0.25 * size / slices)
        truth = ((x - cx) / (0.07 * size)) ** 2 + ((y - c * 0.9) / (0.07 * size)) ** 2 <= 1
    hu = np.where(truth, 130.0, hu) + rng.normal(0, 18, hu.shape)
    grey = np.clip((hu - (40 - 200)) / 400 * 255, 0, 255).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=3), truth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slices", type=int, default=25)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--object", choices=["ellipsoid", "tube"], default="ellipsoid")
    parser.add_argument("--target", type=float, default=0.85, help="IoU a slice must reach to count as done")
    parser.add_argument("--max-slices", type=int, default=20, help="propagation range each way")
    parser.add_argument("--no-mask-input", action="store_true", help="box and points only")
    parser.add_argument(
        "--max-clicks", type=int, default=8, help="simulator clicks per slice (never reached: counted at this)"
    )
    args = parser.parse_args()

    import django

    django.setup()
    import torch

    from segmentation.evaluation.clicks import EvalObject, iou, next_click, noc, simulate
    from segmentation.propagation import StopRule, mask_to_low_res, propagate_direction, walk_indices
    from segmentation.sam.default_arch import build_default_sam
    from segmentation.sam.encoder import encode_images
    from segmentation.sam.propagation import low_res_side, propagation_step
    from segmentation.sam.torch_predictor import TorchClickPredictor

    torch.set_num_threads(2)
    started = time.monotonic()
    checkpoint = Path(__file__).resolve().parents[1] / "segmentation/default_model/default_sam.pt"
    sam = build_default_sam(checkpoint).eval()
    device = torch.device("cpu")
    pictures, truth = phantom(args.slices, args.size, args.object)
    present = [i for i in range(args.slices) if truth[i].any()]
    keys = [f"s{i}" for i in range(args.slices)]
    objects = [EvalObject(keys[i], truth[i], np.zeros_like(truth[i])) for i in present]
    images = {keys[i]: pictures[i] for i in range(args.slices)}

    print(f"phantom ready, {time.monotonic() - started:.0f} s; seeding the middle slice ...", flush=True)
    middle = present[len(present) // 2]
    # The seed first (printed before the slow baseline): the simulator on the middle slice alone.
    seed_object = [objects[present.index(middle)]]
    seed_ious = simulate(
        TorchClickPredictor(sam, seed_object, images, device), seed_object, max_clicks=args.max_clicks
    )[0]
    seed_clicks = max(1, int(noc(seed_ious[None], 0.90)[0]))
    predictor = TorchClickPredictor(sam, seed_object, images, device)
    mask, clicks = np.zeros_like(truth[middle]), []
    for _ in range(seed_clicks):
        click = next_click(mask, seed_object[0])
        if click is None:
            break
        clicks.append(click)
        (mask,) = predictor.predict([(0, list(clicks))])
    seed_mask = mask.astype(bool)

    embeddings = encode_images(sam, [pictures[i] for i in range(args.slices)], device)
    side, size = low_res_side(sam), int(sam.image_encoder.img_size)
    use_mask = not args.no_mask_input

    def step(index, previous, prompts):
        # The previous slice's mask as mask input (as the service does), or box and points only.
        mask_input = mask_to_low_res(previous, img_size=size, low_res_side=side) if use_mask else None
        return propagation_step(
            sam,
            embeddings[index],
            height=args.size,
            width=args.size,
            box=prompts["box"],
            points=prompts["points"],
            mask_input=mask_input,
        )

    rule = StopRule()
    after, before = walk_indices(middle, args.slices, args.max_slices)
    results = {}
    stops = []
    for indices in (after, before):
        walked = propagate_direction(step, seed_mask=seed_mask, indices=indices, rule=rule)
        stops.append(walked.stop_reason)
        for s in walked.slices:
            results[s.index] = s.output.mask

    print(
        f"phantom: {args.object}, {args.slices} slices of {args.size}x{args.size}; object on slices "
        f"{present[0]}..{present[-1]} ({len(present)}); seed on slice {middle}: {seed_clicks} clicks, IoU "
        f"{iou(seed_mask, seed_object[0]):.3f}; mask input {'on' if use_mask else 'off'}; range {args.max_slices}"
    )
    print("slice  truth_px  propagated_IoU")
    per_slice = []
    for i in range(args.slices):
        if i == middle:
            print(f"{i:5d}  {int(truth[i].sum()):8d}  (seed)")
            continue
        value = None
        if i in results:
            obj = EvalObject(keys[i], truth[i], np.zeros_like(truth[i]))
            value = iou(results[i], obj) if truth[i].any() else 0.0
            per_slice.append(value)
        if i in results or truth[i].any():
            shown = f"{value:.3f}" if value is not None else "not propagated"
            print(f"{i:5d}  {int(truth[i].sum()):8d}  {shown:>14}", flush=True)
    print(f"stops: after the seed: {stops[0]}; before it: {stops[1]}")
    print(f"propagation done, {time.monotonic() - started:.0f} s; clicking every slice from scratch ...", flush=True)
    # Baseline: the click simulator on every slice holding the object, from scratch.
    ious = simulate(TorchClickPredictor(sam, objects, images, device), objects, max_clicks=args.max_clicks)
    clicks_each = dict(zip(present, noc(ious, args.target).tolist()))
    reached = dict(zip(present, (ious.max(axis=1) >= args.target).tolist()))
    in_object = [i for i in present if i != middle]
    good = [
        i
        for i in in_object
        if i in results and iou(results[i], EvalObject("", truth[i], np.zeros_like(truth[i]))) >= args.target
    ]
    outside = [i for i in results if not truth[i].any()]
    missed = [i for i in in_object if i not in results]
    print(
        f"median IoU of propagated slices: {np.median(per_slice) if per_slice else float('nan'):.3f} "
        f"({len(results)} propagated; {len(good)} of {len(in_object)} object slices >= {args.target}; "
        f"{len(outside)} propagated past the object's end; {len(missed)} object slices not reached)"
    )
    baseline = int(sum(clicks_each.values()))
    # With propagation: the seed's clicks, plus from-scratch clicks on every object slice that was
    # not propagated well enough (a bad draft is deleted and clicked again), plus one delete per
    # draft outside the object.
    fix = sum(clicks_each[i] for i in in_object if i not in good)
    with_prop = seed_clicks + fix + len(outside)
    print(
        f"clicks: every slice {baseline} (slices never reaching {args.target}: "
        f"{sum(1 for i in present if not reached[i])}, counted at {args.max_clicks}); with propagation {with_prop} "
        f"(seed {seed_clicks} + re-click {fix} + deletes {len(outside)}); saved {baseline - with_prop} "
        f"({(baseline - with_prop) / max(1, baseline):.0%})"
    )
    print(f"seed slice IoU by click: {' '.join(f'{v:.2f}' for v in seed_ious[:5])}; {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
