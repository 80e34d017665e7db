"""Make exported decoder graphs smaller and faster to load: int8 quantisation schemes and onnxruntime's
offline graph optimisation (no Django, no torch)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def token_upscaling_matmuls(path: str | Path) -> list[str]:
    """Names of the token-layout upscaling's MatMul nodes (kept fp32: quantised they lose mask quality)."""
    import onnx

    return [
        node.name
        for node in onnx.load(str(path)).graph.node
        if node.op_type == "MatMul" and node.name.startswith("/token_upscaling/")
    ]


# Int8 schemes compared by bench/decoder_graphs.py (docs/benchmarks.md has the numbers):
# "dynamic-u8": dynamic quantisation, uint8 weights per tensor (activations quantised per run;
#   ConvTranspose stays fp32), "dynamic-u8-pc": the same per output channel, "dynamic-s8": int8
#   weights; "static-*": QDQ with activation ranges calibrated on real embeddings and prompts
#   (covers ConvTranspose too), MatMul/Gemm/Conv/ConvTranspose only, per tensor or per channel.
INT8_SCHEMES = ("dynamic-u8", "dynamic-u8-pc", "dynamic-s8", "static-qdq", "static-qdq-pc")
DEFAULT_INT8_SCHEME = "dynamic-u8"


def quantize_graph(
    fp32_path: str | Path,
    out_path: str | Path,
    scheme: str = DEFAULT_INT8_SCHEME,
    calibration: list[dict[str, Any]] | None = None,
    exclude_nodes: list[str] | None = None,
) -> None:
    """Quantise an exported graph with one of INT8_SCHEMES; static schemes need calibration feeds."""
    from onnxruntime import quantization as q

    if scheme not in INT8_SCHEMES:
        raise ValueError(f"unknown int8 scheme {scheme!r}; one of {INT8_SCHEMES}")
    if scheme.startswith("dynamic"):
        weight = q.QuantType.QInt8 if scheme == "dynamic-s8" else q.QuantType.QUInt8
        q.quantize_dynamic(
            str(fp32_path),
            str(out_path),
            per_channel=scheme.endswith("-pc"),
            reduce_range=False,
            weight_type=weight,
            nodes_to_exclude=exclude_nodes or [],
        )
        return
    if not calibration:
        raise ValueError(f"{scheme} needs calibration feeds (real embeddings and prompts)")

    class Reader(q.CalibrationDataReader):
        def __init__(self) -> None:
            self.items = iter(calibration)

        def get_next(self):
            return next(self.items, None)

    q.quantize_static(
        str(fp32_path),
        str(out_path),
        Reader(),
        quant_format=q.QuantFormat.QDQ,
        op_types_to_quantize=["MatMul", "Gemm", "Conv", "ConvTranspose"],
        per_channel=scheme.endswith("-pc"),
        activation_type=q.QuantType.QUInt8,
        weight_type=q.QuantType.QInt8,
        reduce_range=False,
    )


def optimize_for_runtime(path: str | Path) -> None:
    """Replace the graph at path by onnxruntime's own "extended" optimisation of it (fusions into
    com.microsoft ops such as FusedMatMul, Gelu, DynamicQuantizeMatMul; hardware-independent, unlike
    the "all" level's layouts): the same outputs, but onnxruntime(-web) creates a session on it
    ≈ 4x faster, since those passes no longer run at every page open (docs/benchmarks.md Round 3).
    The result needs onnxruntime (any other ONNX runtime lacks the com.microsoft ops)."""
    import onnxruntime as ort

    path = Path(path)
    optimized = path.with_name(f".{path.name}.optimized")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(optimized)
    ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    os.replace(optimized, path)
