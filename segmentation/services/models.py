"""Model registry writes: register a checkpoint (hash it, export its decoders) and the default model.

Registration loads the checkpoint through the same strict path the workers use, so a file of the
wrong architecture fails here, at registration, not at the first embedding.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction

from common.storage import save_atomically
from common.tasks import enqueue
from segmentation.models import Architecture, SamModel
from segmentation.sam.loader import embedding_shape, encoder_input_size, load_sam, write_random_init_checkpoint
from segmentation.sam.onnx_decoder import OnnxDecoder
from segmentation.sam.onnx_export import export_decoder, export_first_click
from segmentation.sam.onnx_quantize import optimize_for_runtime
from segmentation.storage import read_embedding

logger = logging.getLogger(__name__)

# Bumped when the exported graph changes, so cached decoder files of an older export are not reused.
# 2: registered decoders return all four mask tokens (the browser cycles the multimask candidates).
# 3: low-res graphs (no orig_im_size input, no full-size masks output: the client upscales the mask
#    it draws), int8 with signed weights (bench/decoder_graphs.py), plus the first-click graphs.
# 4: first-click graphs with the output upscaling in token layout (MatMuls, int8-covered; no
#    ConvTranspose / LayerNorm2d ReduceMeans), and one export record per export (decoder_export).
# 5: the prep and first-click graphs are stored pre-optimised by onnxruntime (faster session creation).
# 6: the registered (full, refinement) graphs write the output upscaling in token layout too (−15%
#    per refinement click natively, same outputs); they stay unoptimised (WebGPU runs the fp32 one).
DECODER_EXPORT_VERSION = 6
# How the graphs write the output upscaling (onnx_export.UPSCALINGS; bench/decoder_graphs.py):
# token layout, its MatMuls kept fp32 in the int8 graphs (quantised they cost the min IoU 0.98).
FIRST_CLICK_UPSCALING = "token"
FIRST_CLICK_QUANTIZE_UPSCALING = False
INT8_SCHEME = "dynamic-s8"
# Extra graphs beside the two registered decoders (no model fields: named by checkpoint and export
# version, the content's sha256 in the name): the per-image prep graph and the first-click decoder
# that takes its outputs (segmentation.sam.onnx_export.export_first_click).
FIRST_CLICK_GRAPHS = ("prep", "first-click-fp32", "first-click-int8")
DEFAULT_MODEL_NAME = "default"
RANDOM_DEFAULT_NAME = "default (random init, untrained)"
RANDOM_DEFAULT_FILENAME = "default-random-init.pt"


def committed_default_checkpoint() -> Path:
    """The project's own trained model, committed with the code."""
    return Path(settings.BASE_DIR) / "segmentation" / "default_model" / "default_sam.pt"


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(4 * 1024 * 1024), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _decoder_cache(checkpoint_sha256: str) -> Path:
    return (
        Path(settings.SEGMENTATION_CHECKPOINT_DIR) / "decoder-cache" / f"{checkpoint_sha256}-v{DECODER_EXPORT_VERSION}"
    )


def _exported_decoder_bytes(sam, checkpoint_sha256: str, *, quantize: bool) -> bytes:
    """Decoder ONNX bytes, exported once per checkpoint and kept beside the checkpoints on local disk
    (export takes seconds; re-registration, tests and several web processes reuse it)."""
    variant = "int8" if quantize else "fp32"
    cache = Path(f"{_decoder_cache(checkpoint_sha256)}-{variant}.onnx")
    if not cache.exists():
        # All four outputs (token 0 = single-mask output, 1..3 = multimask candidates): the client
        # applies the official choice itself, and can show the other candidates (Tab in the annotator).
        # Low-res: the client upscales and thresholds only what it draws.
        export_decoder(
            sam,
            cache,
            quantize=quantize,
            return_single_mask=False,
            upscale_in_graph=False,
            int8_scheme=INT8_SCHEME,
            upscaling=FIRST_CLICK_UPSCALING,
            quantize_upscaling=FIRST_CLICK_QUANTIZE_UPSCALING,
        )
    return cache.read_bytes()


def _first_click_bytes(sam, checkpoint_sha256: str) -> dict[str, bytes]:
    folder = _decoder_cache(checkpoint_sha256)
    paths = {graph: folder / f"{graph}.onnx" for graph in FIRST_CLICK_GRAPHS}
    if not all(path.exists() for path in paths.values()):
        folder.mkdir(parents=True, exist_ok=True)
        export_first_click(sam, paths["prep"], paths["first-click-fp32"], upscaling=FIRST_CLICK_UPSCALING)
        export_first_click(
            sam,
            paths["prep"],
            paths["first-click-int8"],
            quantize=True,
            int8_scheme=INT8_SCHEME,
            upscaling=FIRST_CLICK_UPSCALING,
            quantize_upscaling=FIRST_CLICK_QUANTIZE_UPSCALING,
        )
        for path in paths.values():  # on the first mask's path: session creation ≈ 4x faster in the page
            optimize_for_runtime(path)
    return {graph: path.read_bytes() for graph, path in paths.items()}


def _first_click_folder(checkpoint_sha256: str) -> str:
    return f"decoders/{checkpoint_sha256[:16]}/v{DECODER_EXPORT_VERSION}"


# Every graph one export serves; the export record (one JSON per export, written last) names the
# exact file and sha256 of each, so the manifest and the decoder view never mix two exports.
DECODER_GRAPHS = ("fp32", "int8", *FIRST_CLICK_GRAPHS)


def _export_record_name(model: SamModel) -> str:
    # Named by the registered int8 decoder's hash: the model row points at exactly one record.
    return f"{_first_click_folder(model.checkpoint_sha256)}/export-{model.decoder_int8_sha256[:16]}.json"


def decoder_export(model: SamModel) -> dict[str, tuple[str, str]] | None:
    """{graph: (storage name, sha256)} for every graph in DECODER_GRAPHS when the model's stored
    decoders are the current export (DECODER_EXPORT_VERSION, one export record that matches the
    model's decoder fields); None when they are older (or half written): re-export them first."""
    if not (model.decoder_int8_sha256 and model.decoder_fp32_sha256):
        return None
    try:
        with default_storage.open(_export_record_name(model), "rb") as handle:
            record = json.load(handle)
        graphs = {graph: (entry["name"], entry["sha256"]) for graph, entry in record["graphs"].items()}
    except (FileNotFoundError, OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if record.get("version") != DECODER_EXPORT_VERSION or set(graphs) != set(DECODER_GRAPHS):
        return None
    if graphs["fp32"][1] != model.decoder_fp32_sha256 or graphs["int8"][1] != model.decoder_int8_sha256:
        return None
    return graphs


def decoders_current(model: SamModel) -> bool:
    return decoder_export(model) is not None


def first_click_graphs(model: SamModel) -> dict[str, tuple[str, str]]:
    """{graph: (storage name, sha256)} of the model's first-click graphs from its current export
    record; empty when the stored decoders are not the current export."""
    graphs = decoder_export(model)
    return {graph: graphs[graph] for graph in FIRST_CLICK_GRAPHS} if graphs else {}


def _store_decoders(record: SamModel, sam) -> None:
    stored: dict[str, dict[str, str]] = {}
    for variant, quantize in (("fp32", False), ("int8", True)):
        data = _exported_decoder_bytes(sam, record.checkpoint_sha256, quantize=quantize)
        sha = hashlib.sha256(data).hexdigest()
        name = save_atomically(f"decoders/{record.checkpoint_sha256[:16]}/decoder-{variant}-{sha[:16]}.onnx", data)
        setattr(record, f"decoder_{variant}", name)
        setattr(record, f"decoder_{variant}_sha256", sha)
        stored[variant] = {"name": name, "sha256": sha}
    folder = _first_click_folder(record.checkpoint_sha256)
    for graph, data in _first_click_bytes(sam, record.checkpoint_sha256).items():
        sha = hashlib.sha256(data).hexdigest()
        stored[graph] = {"name": save_atomically(f"{folder}/{graph}-{sha}.onnx", data), "sha256": sha}
    # Written last: a reader that finds the record finds every file it names.
    body = {"version": DECODER_EXPORT_VERSION, "int8_scheme": INT8_SCHEME, "graphs": stored}
    save_atomically(_export_record_name(record), json.dumps(body, indent=1, sort_keys=True).encode())


def sam_model_register(
    *,
    name: str,
    architecture: str,
    checkpoint_path: str | Path,
    make_default: bool = False,
    parent: SamModel | None = None,
    encoder_sha256: str | None = None,
    training: dict | None = None,
    verify: Callable[[SamModel, Any], None] | None = None,
) -> SamModel:
    """Register (or refresh) the model whose weights are in checkpoint_path; exports fp32+int8 decoders.

    A fine-tuned version names its parent, its parent's encoder_sha256 (its embeddings are the
    parent's) and its training record; a refresh leaves those as they are. verify(record, sam) runs
    after the decoders are exported and before anything is saved: raising there registers nothing."""
    if architecture not in Architecture.values:
        raise ValueError(f"Unknown architecture {architecture!r}; one of {Architecture.values}.")
    checkpoint_path = Path(checkpoint_path).resolve()
    sha = file_sha256(checkpoint_path)
    sam = load_sam(architecture, checkpoint_path)  # strict: raises CheckpointMismatchError
    record = SamModel.objects.filter(checkpoint_sha256=sha).first() or SamModel(checkpoint_sha256=sha)
    if record.pk and record.architecture != architecture:
        raise ValueError(f"{checkpoint_path} is already registered as {record.architecture!r} ({record.name}).")
    record.name = record.name if record.pk else name
    record.architecture = architecture
    record.checkpoint_path = str(checkpoint_path)
    record.encoder_input_size = encoder_input_size(sam)
    record.embedding_shape = embedding_shape(sam)
    record.encoder_sha256 = encoder_sha256 or record.encoder_sha256 or sha
    if parent is not None:
        record.parent = parent
    if training is not None:
        record.training = training
    _store_decoders(record, sam)
    if verify is not None:
        verify(record, sam)
    with transaction.atomic():
        if make_default:
            SamModel.objects.filter(is_default=True).exclude(pk=record.pk).update(is_default=False)
            record.is_default = True
        record.save()
    logger.info("Registered SAM model %s (%s, sha256 %s)", record.name, architecture, sha[:12])
    return record


def default_sam_model() -> SamModel:
    """The default model, registering it on first use (the committed trained file when present)."""
    current = SamModel.objects.filter(is_default=True).first()
    trained = committed_default_checkpoint()
    if current is not None and not (current.name == RANDOM_DEFAULT_NAME and trained.exists()):
        return current
    if trained.exists():
        name, path = DEFAULT_MODEL_NAME, trained
    else:
        logger.warning("%s is missing: registering a random-init default model (masks will be meaningless).", trained)
        # Deterministic random init: the app works end to end before the trained file is committed.
        random_init = Path(settings.SEGMENTATION_CHECKPOINT_DIR) / RANDOM_DEFAULT_FILENAME
        name, path = RANDOM_DEFAULT_NAME, write_random_init_checkpoint(random_init)
    try:
        return sam_model_register(name=name, architecture=Architecture.DEFAULT, checkpoint_path=path, make_default=True)
    except IntegrityError:  # another process registered it at the same moment
        return SamModel.objects.get(is_default=True)


def decoders_refresh(model: SamModel) -> SamModel:
    """Export the model's decoders again when they are older than DECODER_EXPORT_VERSION (or their
    export record is missing); a no-op when current. Raises FileNotFoundError without the checkpoint."""
    if decoders_current(model):
        return model
    if not Path(model.checkpoint_path).exists():
        raise FileNotFoundError(
            f"{model.checkpoint_path} is missing: the decoders of {model.name} cannot be re-exported."
        )
    logger.info("Re-exporting the decoders of %s (export version %s)", model.name, DECODER_EXPORT_VERSION)
    return sam_model_register(
        name=model.name,
        architecture=model.architecture,
        checkpoint_path=model.checkpoint_path,
        make_default=model.is_default,
    )


def _refresh_lock_key(model: SamModel) -> str:
    return f"decoder-export:{model.pk}:v{DECODER_EXPORT_VERSION}:{model.decoder_int8_sha256[:16]}"


def decoders_prepare(model: SamModel) -> str:
    """The model's decoder state for the manifest: "ready", or "preparing" after queueing one
    background re-export (decoder_export_refresh), or "unavailable" when the checkpoint is gone."""
    if decoders_current(model):
        return "ready"
    if not Path(model.checkpoint_path).exists():
        return "unavailable"
    if cache.add(_refresh_lock_key(model), True, timeout=15 * 60):
        enqueue("segmentation.tasks.decoder_export_refresh", model.pk)
    return "preparing"


def decoders_refresh_by_id(model_id: int) -> None:
    """The lazy re-export (segmentation.tasks.decoder_export_refresh); a deleted model is skipped."""
    model = SamModel.objects.filter(pk=model_id).first()
    if model is not None:
        decoders_refresh(model)


def settings_models_register() -> list[SamModel]:
    """The default model plus SAM_CHECKPOINT/SAM_CHECKPOINT_TYPE when set (run by `ensure_models`),
    and every other registered model whose stored decoders are older than DECODER_EXPORT_VERSION
    (re-exported when its checkpoint is on this disk; the manifest re-exports the others lazily)."""
    models = [decoders_refresh(default_sam_model())]
    if settings.SEGMENTATION_CHECKPOINT:
        path = Path(settings.SEGMENTATION_CHECKPOINT)
        models.append(
            sam_model_register(
                name=f"{settings.SEGMENTATION_CHECKPOINT_TYPE} ({path.name})",
                architecture=settings.SEGMENTATION_CHECKPOINT_TYPE,
                checkpoint_path=path,
            )
        )
    seen = {model.pk for model in models}
    for model in SamModel.objects.exclude(pk__in=seen):
        if decoders_current(model):
            continue
        try:
            models.append(decoders_refresh(model))
        except FileNotFoundError as exc:
            logger.warning("%s", exc)
    return models


def model_or_default(model: SamModel | None) -> SamModel:
    """The model a caller chose, else the default (registered on first use)."""
    return model if model is not None else default_sam_model()


# Server-side decoder (POST /api/images/<id>/decode/): the architecture some peers use, kept as the
# baseline the in-browser decoder is measured against (bench/click_latency.py). One onnxruntime
# session per decoder file and the last few parsed embeddings per process, shared by all requests.
_server_decoders: dict[str, object] = {}
_server_embeddings: dict[str, object] = {}
_server_lock = threading.Lock()
_SERVER_EMBEDDINGS_KEPT = 4


def server_decoder(model: SamModel, variant: str):
    """The process-wide OnnxDecoder on the model's exported decoder file (fp32 or int8)."""
    field = getattr(model, f"decoder_{variant}")
    key = getattr(model, f"decoder_{variant}_sha256")
    with _server_lock:
        decoder = _server_decoders.get(key)
        if decoder is None:
            with default_storage.open(field.name, "rb") as handle:
                decoder = OnnxDecoder(handle.read(), img_size=model.encoder_input_size)
            _server_decoders[key] = decoder
    return decoder


def server_embedding(name: str):
    """(C, h, w) float32 embedding read from storage once per process (the last few are kept)."""
    with _server_lock:
        cached = _server_embeddings.get(name)
    if cached is None:
        cached = np.asarray(read_embedding(name)[0], dtype=np.float32)
        with _server_lock:
            _server_embeddings[name] = cached
            while len(_server_embeddings) > _SERVER_EMBEDDINGS_KEPT:
                _server_embeddings.pop(next(iter(_server_embeddings)))
    return cached


def server_decode_mask(
    model: SamModel,
    embedding_name: str,
    *,
    height: int,
    width: int,
    variant: str,
    points: list,
    labels: list,
    box: list | None,
):
    """The officially chosen mask (H, W) bool for these prompts, decoded in this process."""
    logits = server_decoder(model, variant).predict_official_mask(
        server_embedding(embedding_name), height=height, width=width, points=points, labels=labels, box=box
    )
    return logits > 0
