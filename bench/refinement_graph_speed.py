"""Refinement-click decoder graph in native onnxruntime: output upscaling as ConvTranspose2d (the
plain MaskDecoder) vs in token layout (DECODER_EXPORT_VERSION 6), fp32 and int8, 1 thread.

One command (`make bench-refinement-speed`); Django-free. A refinement click is 3 points plus the
previous low-res mask (has_mask_input = 1), what the registered graph answers in the browser after
the first click. Prints medians per variant, the ratio against the ConvTranspose graph of the same
model and precision (same process, interleaved rounds), and the max abs difference of the logits.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
ROUNDS = 40
INT8_SCHEME = "dynamic-s8"  # the registry's (segmentation.services.models.INT8_SCHEME; that module needs Django)


def main() -> None:
    import onnxruntime as ort
    import torch

    from segmentation.sam.default_arch import build_default_sam
    from segmentation.sam.loader import build_sam
    from segmentation.sam.onnx_export import export_decoder

    torch.manual_seed(0)
    models = {
        "vit_b-size (vit_t decoder)": build_sam("vit_t"),
        "default": build_default_sam(REPO / "segmentation/default_model/default_sam.pt"),
    }
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as work:
        for name, sam in models.items():
            side = sam.prompt_encoder.mask_input_size[0]
            feeds = {
                "image_embeddings": rng.standard_normal((1, 256, 64, 64)).astype(np.float32),
                "point_coords": rng.uniform(0, sam.image_encoder.img_size - 1, (1, 4, 2)).astype(np.float32),
                "point_labels": np.array([[1.0, 0.0, 1.0, -1.0]], np.float32),
                "mask_input": rng.standard_normal((1, 1, side, side)).astype(np.float32) * 4,
                "has_mask_input": np.array([1.0], np.float32),
            }
            for quantize in (False, True):
                sessions, outputs = {}, {}
                for upscaling in ("conv", "token"):
                    path = Path(work) / f"{upscaling}-{quantize}.onnx"
                    export_decoder(
                        sam,
                        path,
                        quantize=quantize,
                        return_single_mask=False,
                        upscale_in_graph=False,
                        int8_scheme=INT8_SCHEME,
                        upscaling=upscaling,
                        quantize_upscaling=False,
                    )
                    options = ort.SessionOptions()
                    options.intra_op_num_threads = 1
                    sessions[upscaling] = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
                    outputs[upscaling] = sessions[upscaling].run(["low_res_masks"], feeds)[0]
                times: dict[str, list[float]] = {key: [] for key in sessions}
                for _ in range(3):
                    for s in sessions.values():
                        s.run(None, feeds)
                for _ in range(ROUNDS):  # interleaved: both see the same machine state
                    for key, s in sessions.items():
                        started = time.perf_counter()
                        s.run(None, feeds)
                        times[key].append((time.perf_counter() - started) * 1000)
                base = statistics.median(times["conv"])
                diff = float(np.abs(outputs["token"] - outputs["conv"]).max())
                for key in sessions:
                    median = statistics.median(times[key])
                    print(
                        f"{name:<28} {'int8' if quantize else 'fp32'} {key:<6} p50 {median:6.1f} ms  "
                        f"ratio vs conv {median / base:.2f}"
                        + (f"  max |Δ logit| {diff:.1e}" if key == "token" else ""),
                        flush=True,
                    )


if __name__ == "__main__":
    main()
