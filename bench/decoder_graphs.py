"""Decoder graph variants in native onnxruntime: per-click time (ratio vs the plain graph, same
process) and mask quality (IoU vs the plain fp32 export on random prompts, 4 aspect ratios).

One command (`make bench-decoder-graphs`); Django-free. The decoder is the size of official vit_b's
(MobileSAM vit_t's prompt encoder + mask decoder, random weights, seed 0). Embeddings are real
encoder outputs (vit_t encoder, same random weights) of scikit-image sample photographs: three
calibrate the static int8 schemes, a fourth is held out for the IoU check. Variants:
- plain: the official-style export, masks upscaled to the image inside the graph (the reference);
- low-res: upscale_in_graph=False, what the registry exports; the client upscales the drawn mask;
- low-res int8 schemes: segmentation.sam.onnx_quantize.INT8_SCHEMES;
- first-click: the per-image prep graph's outputs (first layer's image-side projections) fed to a
  graph that runs the rest, for prompts without a mask input (first click, hover);
- first-click-mm: the same with the output upscaling's two ConvTranspose2d(k=2, s=2) written as
  MatMul + DepthToSpace (identical in fp32; dynamic int8 then covers them);
- first-click-tok: the upscaling and the mask product in token layout (onnx_export._token_upscaling_masks:
  MatMuls, LayerNormalization, one Transpose of the 4 mask channels at the end); its int8 form with
  the upscaling MatMuls quantised or kept fp32 ("fp32 upscaling").
--profile: onnxruntime's profile of the first-click int8 graphs (top ops by kernel time).
Timing: one-click prompt without mask input, the variants interleaved round by round, medians.
IoU: the officially chosen mask, upscaled like the client does, cut at the plain export's median
logit (random weights give near-empty or near-full masks at 0) and at 0.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
ASPECTS = [(1024, 768), (600, 1400), (333, 1000), (360, 480)]  # (height, width)
TIMING_SIZE = (768, 1024)


def embeddings(sam, count: int) -> list[np.ndarray]:
    from skimage import data as samples

    from segmentation.sam.encoder import encode_images

    images = [samples.astronaut(), samples.coffee(), samples.chelsea(), samples.rocket()][:count]
    return [encode_images(sam, [image], "cpu")[0].astype(np.float32)[None] for image in images]


def random_prompt(rng, height, width, *, with_box: bool, with_mask: bool, mask_size: int):
    from segmentation.sam.onnx_decoder import image_to_model_coords

    count = int(rng.integers(1, 4))
    points = np.stack([rng.uniform(0, width - 1, count), rng.uniform(0, height - 1, count)], axis=1)
    labels = rng.integers(0, 2, count).astype(np.float32)
    labels[0] = 1
    img_size = 1024
    coords = image_to_model_coords(points, height, width, img_size)
    if with_box:
        x0, x1 = sorted(rng.uniform(0, width - 1, 2))
        y0, y1 = sorted(rng.uniform(0, height - 1, 2))
        coords = np.concatenate(
            [coords, image_to_model_coords(np.array([[x0, y0], [x1, y1]]), height, width, img_size)]
        )
        labels = np.concatenate([labels, [2, 3]]).astype(np.float32)
    else:
        coords = np.concatenate([coords, np.zeros((1, 2), np.float32)])
        labels = np.concatenate([labels, [-1]]).astype(np.float32)
    mask = (rng.standard_normal((1, 1, mask_size, mask_size)) * 4).astype(np.float32) if with_mask else None
    return coords[None].astype(np.float32), labels[None], mask


def session(path: Path, threads: int):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def feeds_for(kind: str, emb, prepared, coords, labels, mask, size):
    if kind == "first-click":
        return {"point_coords": coords, "point_labels": labels, **prepared}
    feeds = {
        "image_embeddings": emb,
        "point_coords": coords,
        "point_labels": labels,
        "mask_input": mask if mask is not None else np.zeros((1, 1, 256, 256), np.float32),
        "has_mask_input": np.array([0.0 if mask is None else 1.0], np.float32),
    }
    if kind == "plain":
        feeds["orig_im_size"] = np.array(size, np.float32)
    return feeds


def chosen_logits(kind, out, height, width, num_points):
    from segmentation.sam.onnx_decoder import official_mask_index, upscale_low_res

    if kind == "plain":
        masks, ious = out[0][0], out[1][0]
        return masks[official_mask_index(ious, num_points)]
    ious, low = out[0][0], out[1][0]
    index = official_mask_index(ious, num_points)
    return upscale_low_res(low[index : index + 1], height, width, 1024)[0]


def iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return 1.0 if union == 0 else float(np.logical_and(a, b).sum() / union)


def profile_ops(work: Path, variants: dict, prepared: dict) -> None:
    """onnxruntime's own profile (1 thread, 50 runs) of the first-click int8 graphs: kernel time per op type."""
    import json

    import onnxruntime as ort

    coords, labels, _ = random_prompt(
        np.random.default_rng(3), *TIMING_SIZE, with_box=False, with_mask=False, mask_size=256
    )
    for name, (_, path) in variants.items():
        if not name.startswith("first-click") or name.endswith(" fp32") or "static" in name:
            continue
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.enable_profiling = True
        options.profile_file_prefix = str(work / name.replace(" ", "-"))
        sess = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        for _ in range(50):
            sess.run(None, {"point_coords": coords, "point_labels": labels, **prepared})
        events = json.loads(Path(sess.end_profiling()).read_text())
        per_op: dict[str, float] = {}
        for event in events:
            if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
                op = event["args"].get("op_name", "?")
                per_op[op] = per_op.get(op, 0.0) + event["dur"] / 1000 / 50
        total = sum(per_op.values())
        top = sorted(per_op.items(), key=lambda item: -item[1])[:10]
        print(
            f"profile {name} (1 thread, ms per run, total {total:.1f}): "
            + ", ".join(f"{op} {ms:.1f} ({100 * ms / total:.0f}%)" for op, ms in top),
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100, help="timed runs per variant and thread count")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--prompts", type=int, default=12, help="random prompts per aspect ratio for the IoU")
    parser.add_argument("--variants", nargs="*", help="only these variants (default: all)")
    parser.add_argument("--profile", action="store_true", help="print the top ops of the first-click int8 graphs")
    args = parser.parse_args()
    import logging

    logging.getLogger().setLevel(logging.ERROR)  # the quantizer logs every tensor
    import warnings

    warnings.filterwarnings("ignore")
    import torch

    from segmentation.sam.loader import build_sam
    from segmentation.sam.onnx_export import export_decoder, export_first_click
    from segmentation.sam.onnx_quantize import INT8_SCHEMES, quantize_graph

    torch.manual_seed(0)
    sam = build_sam("vit_t")
    print(f"load average {os.getloadavg()[0]:.2f}; encoding 4 sample images (vit_t, random weights) ...", flush=True)
    embs = embeddings(sam, 4)
    calib_embs, test_emb = embs[:3], embs[3]
    work = Path(tempfile.mkdtemp(prefix="decoder-graphs-"))
    export_decoder(sam, work / "plain.onnx", return_single_mask=False)
    export_decoder(sam, work / "low.onnx", return_single_mask=False, upscale_in_graph=False)
    export_first_click(sam, work / "prep.onnx", work / "first-click.onnx")
    export_first_click(sam, work / "prep.onnx", work / "first-click-mm.onnx", upscaling="matmul")
    export_first_click(sam, work / "prep.onnx", work / "first-click-tok.onnx", upscaling="token")
    # The token-layout graph, int8 except the upscaling's MatMuls (fp32: mask quality).
    export_first_click(
        sam,
        work / "prep.onnx",
        work / "first-click-tokf.onnx",
        upscaling="token",
        quantize=True,
        int8_scheme="dynamic-s8",
        quantize_upscaling=False,
    )
    prep = session(work / "prep.onnx", 2)
    prep_names = [o.name for o in prep.get_outputs()]

    def prepare(emb):
        return dict(zip(prep_names, prep.run(None, {"image_embeddings": emb})))

    rng = np.random.default_rng(1)
    calibration = {"low-res": [], "first-click": []}
    for emb in calib_embs:
        prepared = prepare(emb)
        for case in range(16):
            height, width = ASPECTS[case % 4]
            coords, labels, mask = random_prompt(
                rng, height, width, with_box=case % 3 == 1, with_mask=case % 4 == 3, mask_size=256
            )
            calibration["low-res"].append(feeds_for("low-res", emb, None, coords, labels, mask, (height, width)))
            calibration["first-click"].append(feeds_for("first-click", emb, prepared, coords, labels, None, None))
    variants: dict[str, tuple[str, Path]] = {
        "plain fp32": ("plain", work / "plain.onnx"),
        "low-res fp32": ("low-res", work / "low.onnx"),
        "first-click fp32": ("first-click", work / "first-click.onnx"),
        "first-click-mm fp32": ("first-click", work / "first-click-mm.onnx"),
        "first-click-tok fp32": ("first-click", work / "first-click-tok.onnx"),
        "first-click-tok dynamic-s8, fp32 upscaling": ("first-click", work / "first-click-tokf.onnx"),
    }
    for scheme in INT8_SCHEMES:
        sources = [("low-res", "low-res", work / "low.onnx"), ("first-click", "first-click", work / "first-click.onnx")]
        if scheme.startswith("dynamic"):
            sources.append(("first-click-mm", "first-click", work / "first-click-mm.onnx"))
            sources.append(("first-click-tok", "first-click", work / "first-click-tok.onnx"))
        for label, kind, source in sources:
            name = f"{label} {scheme}"
            if args.variants and name not in args.variants:
                continue
            out = work / f"{label}-{scheme}.onnx"
            try:
                quantize_graph(source, out, scheme, calibration[kind])
            except Exception as exc:  # a scheme the quantiser cannot apply is reported, not fatal
                print(f"  {name}: quantisation failed: {exc}", flush=True)
                continue
            variants[name] = (kind, out)
    if args.variants:
        variants = {k: v for k, v in variants.items() if k in args.variants or k == "plain fp32"}
    if args.profile:
        profile_ops(work, variants, prepare(test_emb))

    # Quality: officially chosen mask vs the plain fp32 export, held-out image.
    plain = session(work / "plain.onnx", 2)
    prepared = prepare(test_emb)
    quality: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    sessions = {name: session(path, 2) for name, (_, path) in variants.items()}
    rng = np.random.default_rng(2)
    for height, width in ASPECTS:
        for case in range(args.prompts):
            with_mask = case % 4 == 3
            coords, labels, mask = random_prompt(
                rng, height, width, with_box=case % 3 == 1, with_mask=with_mask, mask_size=256
            )
            ref = chosen_logits(
                "plain",
                plain.run(None, feeds_for("plain", test_emb, None, coords, labels, mask, (height, width))),
                height,
                width,
                coords.shape[1],
            )
            cut = float(np.median(ref))
            for name, (kind, _) in variants.items():
                if kind == "first-click" and with_mask:
                    continue  # refinement clicks keep the full graph
                out = sessions[name].run(
                    None, feeds_for(kind, test_emb, prepared, coords, labels, mask, (height, width))
                )
                got = chosen_logits(kind, out, height, width, coords.shape[1])
                quality[name].append((iou(got > cut, ref > cut), iou(got > 0, ref > 0)))

    # Speed: one click, no mask input (the first click / hover), interleaved rounds.
    coords, labels, _ = random_prompt(
        np.random.default_rng(3), *TIMING_SIZE, with_box=False, with_mask=False, mask_size=256
    )
    times: dict[tuple[str, int], list[float]] = {}
    prep_times: dict[int, list[float]] = {}
    for threads in args.threads:
        timed = {name: session(path, threads) for name, (_, path) in variants.items()}
        feeds = {
            name: feeds_for(kind, test_emb, prepared, coords, labels, None, TIMING_SIZE)
            for name, (kind, _) in variants.items()
        }
        prep_t = session(work / "prep.onnx", threads)
        for name in timed:  # warm up
            for _ in range(3):
                timed[name].run(None, feeds[name])
        for _ in range(args.runs):
            for name in timed:
                started = time.perf_counter()
                timed[name].run(None, feeds[name])
                times.setdefault((name, threads), []).append((time.perf_counter() - started) * 1000)
        for _ in range(10):
            started = time.perf_counter()
            prep_t.run(None, {"image_embeddings": test_emb})
            prep_times.setdefault(threads, []).append((time.perf_counter() - started) * 1000)
    sizes = {name: path.stat().st_size / 1e6 for name, (_, path) in variants.items()}

    header = "".join(f" {f'{t} thr ms':>9} {'ratio':>6}" for t in args.threads)
    print(f"\n{'variant':<28} {'MB':>5}{header} {'IoU@median min':>15} {'mean':>6} {'IoU@0 min':>10} {'n':>4}")
    for name in variants:
        row = f"{name:<28} {sizes[name]:>5.1f}"
        for threads in args.threads:
            median = statistics.median(times[(name, threads)])
            base = statistics.median(times[("plain fp32", threads)])
            row += f" {median:>9.1f} {median / base:>6.2f}"
        cut_ious = [a for a, _ in quality[name]]
        zero_ious = [b for _, b in quality[name]]
        row += f" {min(cut_ious):>15.4f} {statistics.mean(cut_ious):>6.4f} {min(zero_ious):>10.4f} {len(cut_ious):>4}"
        print(row)
    for threads in args.threads:
        print(f"prep graph (once per image), {threads} thr: median {statistics.median(prep_times[threads]):.1f} ms")
    print(
        f"{args.runs} runs per cell, one-click prompt without mask input, {TIMING_SIZE[0]}x{TIMING_SIZE[1]} image "
        f"(plain graph upscales to it; the others return 256x256 logits); load average {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
